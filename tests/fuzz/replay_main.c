// Stand-in main for fuzz targets when libFuzzer is not available: feeds every file of the corpus folder(s)
// given on the command line to LLVMFuzzerTestOneInput once, so the seeds run under every build (ASan included).
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    int count = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: no such corpus %s\n", argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            count += run_file(argv[a]);
            continue;
        }
        DIR *d = opendir(argv[a]);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            count += run_file(path);
        }
        closedir(d);
    }
    printf("replay: %d inputs ran without a crash\n", count);
    return count > 0 ? 0 : 1;
}
