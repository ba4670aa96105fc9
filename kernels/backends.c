// Backends by name: the CPU table always, the others as the program registers them (kernels/backend.h).
#include <string.h>

#include "kernels/backend.h"

enum { MAX_BACKENDS = 4 };

static struct {
    const mg_backend *table;
    mg_backend_opener open;
} g_backends[MAX_BACKENDS];
static int g_n_backends;

void mg_backend_register(const mg_backend *table, mg_backend_opener open) {
    for (int i = 0; i < g_n_backends; i++)
        if (!strcmp(g_backends[i].table->name, table->name)) {
            g_backends[i].table = table, g_backends[i].open = open;
            return;
        }
    mgCheck(g_n_backends < MAX_BACKENDS, "too many compute backends registered");
    g_backends[g_n_backends].table = table;
    g_backends[g_n_backends++].open = open;
}

static int find(const char *name) {
    for (int i = 0; i < g_n_backends; i++)
        if (!strcmp(g_backends[i].table->name, name)) return i;
    return -1;
}

const mg_backend *mg_backend_find(const char *name) {
    if (!strcmp(name, "cpu")) return &mg_backend_cpu;
    int i = find(name);
    return i < 0 ? NULL : g_backends[i].table;
}

const mg_backend *mg_backend_open(const char *name, int device, mg_err *e) {
    if (!strcmp(name, "cpu")) return &mg_backend_cpu;
    int i = find(name);
    if (i >= 0) return g_backends[i].open(device, e);
    mg_fail(e, "engine.backend is '%s', but this migrate was built without that backend%s", name,
            strcmp(name, "cuda") ? "" : " (no nvcc at build time, or -DMIGRATE_CUDA=OFF; docs/cuda.md)");
    return NULL;
}
