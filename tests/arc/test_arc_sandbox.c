// The ARC sandbox (tasks/arc/sandbox.h) against hand-written hostile programs: each must come back as the right
// result or failure reason, within its time limit, leave no process behind (the test's descendants are exactly
// the workers and their guards after every program), and leave the sandbox able to run the next program.
// Skips (77) when /usr/bin/python3 lacks numpy or seccomp (scripts/install-deps.sh installs both).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "tasks/arc/sandbox.h"
#include "testing.h"

#define WALL_S 1.0      // the per-grid limit the test runs under
#define MARGIN_S 1.5    // for fork, pipes and a loaded machine
#define SECRET "arc-sandbox-secret-7f3c9e"

static char common_dir[64], pwned[128], bigfile[128];

// ---- processes ----

// The parent of pid, from /proc/pid/stat (the field after the command name, which may hold spaces). -1: gone.
static pid_t parent_of(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *close_paren = strrchr(buf, ')');
    int ppid;
    if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1) return -1;
    return ppid;
}

// How many processes descend from this one (children, grandchildren, ...).
static int descendants(void) {
    enum { MAXP = 65536 };
    static pid_t pids[MAXP], ppids[MAXP];
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d) return -1;
    for (struct dirent *de; (de = readdir(d)) && n < MAXP;) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        pid_t pp = parent_of((pid_t)pid);
        if (pp >= 0) pids[n] = (pid_t)pid, ppids[n++] = pp;
    }
    closedir(d);
    static char in[MAXP];
    memset(in, 0, sizeof in);
    int count = 0, grew = 1;
    while (grew) {  // fixed point: a process is in when its parent is us or in
        grew = 0;
        for (int i = 0; i < n; i++) {
            if (in[i]) continue;
            int parent_in = ppids[i] == getpid();
            for (int j = 0; j < n && !parent_in; j++) parent_in = in[j] && pids[j] == ppids[i];
            if (parent_in) in[i] = 1, count++, grew = 1;
        }
    }
    return count;
}

// How many private folders of workers (/tmp/arc-*) exist: none may be left behind.
static int private_folders(void) {
    DIR *d = opendir("/tmp");
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += !strncmp(de->d_name, "arc-", 4) && strlen(de->d_name) == 12;
    if (d) closedir(d);
    return n;
}

// ---- cases ----

typedef struct {
    const char *name, *program;
    const char *want_reason;  // prefix of the failure reason; NULL: must succeed
    int want_cell;            // when succeeding on the 2x2 input: -1 the input rotated, else every cell this value
} hostile;

static arc_grid input_2x2(void) {
    arc_grid g;
    arc_grid_init(&g, 2, 2, 0);
    arc_set(&g, 0, 0, 1), arc_set(&g, 0, 1, 2), arc_set(&g, 1, 0, 3), arc_set(&g, 1, 1, 4);
    return g;
}

static int is_rot90(const arc_grid *out) {  // np.rot90 of [[1,2],[3,4]] is [[2,4],[1,3]]
    return out->rows == 2 && out->cols == 2 && arc_at(out, 0, 0) == 2 && arc_at(out, 0, 1) == 4 &&
           arc_at(out, 1, 0) == 1 && arc_at(out, 1, 1) == 3;
}

static int all_cells(const arc_grid *g, int v) {
    for (int i = 0; i < g->rows * g->cols; i++)
        if (g->cells[i] != v) return 0;
    return g->rows > 0;
}

// Runs one program on the 2x2 input and checks result, time, leftover processes; returns the result's ok.
static void run_case(arc_sandbox *sb, int workers, const hostile *h) {
    arc_grid in = input_2x2();
    arc_result r;
    mg_err e;
    double t0 = mg_seconds();
    int rc = arc_sandbox_run(sb, h->program, 1, &in, &r, &e);
    double took = mg_seconds() - t0;
    CHECK(rc == 0, "%s: run failed: %s", h->name, e.msg);
    if (rc == 0 && h->want_reason) {
        CHECK(!r.ok && !strncmp(r.reason, h->want_reason, strlen(h->want_reason)), "%s: want '%s', got %s '%s'",
              h->name, h->want_reason, r.ok ? "a grid" : "failure", r.reason);
    } else if (rc == 0) {
        CHECK(r.ok, "%s: failed: %s", h->name, r.reason);
        if (r.ok && h->want_cell < 0) CHECK(is_rot90(&r.grid), "%s: not the input rotated", h->name);
        if (r.ok && h->want_cell >= 0)
            CHECK(all_cells(&r.grid, h->want_cell), "%s: want every cell %d, got %dx%d first %d", h->name,
                  h->want_cell, r.grid.rows, r.grid.cols, r.grid.rows ? r.grid.cells[0] : -1);
    }
    // load + one grid, each under WALL_S, plus the margin
    CHECK(took <= 2 * WALL_S + MARGIN_S, "%s: took %.2f s", h->name, took);
    int left = descendants();
    CHECK(left == 2 * workers, "%s: %d processes descend from the test, want %d (workers and guards)", h->name,
          left, 2 * workers);
    printf("  %-22s %6.3f s  %s\n", h->name, took, r.ok ? "ok" : r.reason);
    arc_results_free(&r, 1);
    arc_grid_free(&in);
}

// The worker is killed from outside while a program runs: that program fails, the next one still runs, and a
// program queued behind it in the same call keeps its result.
static void kill_worker_mid_call(arc_sandbox *sb) {
    pid_t worker = arc_sandbox_worker_pid(sb, 0);
    CHECK(worker > 0, "worker 0 has no pid");
    pid_t killer = fork();
    if (killer == 0) {
        usleep(400 * 1000);
        kill(worker, SIGKILL);
        _exit(0);
    }
    const char *programs[2] = {"import time\ndef transform(g):\n    time.sleep(0.9)\n    return g\n",
                               "import numpy as np\ndef transform(g):\n    return np.rot90(g)\n"};
    arc_grid in = input_2x2();
    arc_result r[2];
    mg_err e;
    int rc = arc_sandbox_run_many(sb, 2, programs, 1, &in, r, &e);
    waitpid(killer, NULL, 0);
    CHECK(rc == 0, "run_many: %s", e.msg);
    CHECK(!r[0].ok && strstr(r[0].reason, "killed by signal 9"), "killed worker's program: %s",
          r[0].ok ? "ok" : r[0].reason);
    CHECK(r[1].ok && is_rot90(&r[1].grid), "the program after it: %s", r[1].ok ? "wrong grid" : r[1].reason);
    CHECK(arc_sandbox_worker_pid(sb, 0) > 0 && arc_sandbox_worker_pid(sb, 0) != worker, "worker not replaced");
    CHECK(descendants() == 2, "after the kill: %d descendants", descendants());
    printf("  %-22s %s / %s\n", "worker killed mid-call", r[0].ok ? "ok" : r[0].reason, r[1].ok ? "ok" : r[1].reason);
    arc_results_free(r, 2);
    arc_grid_free(&in);
}

// Three grids, the middle one loops: only it times out, the others keep their outputs.
static void one_grid_times_out(arc_sandbox *sb) {
    arc_grid in[3];
    for (int i = 0; i < 3; i++) arc_grid_init(&in[i], 1, 1, (uint8_t)(i == 1 ? 5 : i));
    const char *program = "def transform(g):\n    while g[0][0] == 5: pass\n    return g + 1\n";
    arc_result r[3];
    mg_err e;
    double t0 = mg_seconds();
    int rc = arc_sandbox_run(sb, program, 3, in, r, &e);
    double took = mg_seconds() - t0;
    CHECK(rc == 0, "%s", e.msg);
    CHECK(r[0].ok && r[0].grid.cells[0] == 1, "grid 0: %s", r[0].reason);
    CHECK(!r[1].ok && !strcmp(r[1].reason, "timeout"), "grid 1: %s", r[1].ok ? "ok" : r[1].reason);
    CHECK(r[2].ok && r[2].grid.cells[0] == 3, "grid 2: %s", r[2].reason);
    CHECK(took <= 4 * WALL_S + MARGIN_S, "three grids took %.2f s", took);
    printf("  %-22s %6.3f s\n", "middle grid loops", took);
    arc_results_free(r, 3);
    for (int i = 0; i < 3; i++) arc_grid_free(&in[i]);
}

// A listening socket the socket program tries to reach; after the run nothing may have connected.
static int listener(int *port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0)
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

static int python_ready(void) {
    return system("/usr/bin/python3 -c 'import numpy, seccomp' >/dev/null 2>&1") == 0;
}

static void write_common(void) {
    snprintf(common_dir, sizeof common_dir, "/tmp/arc-sandbox-test-XXXXXX");
    CHECK(mkdtemp(common_dir) != NULL, "mkdtemp");
    char path[128];
    snprintf(path, sizeof path, "%s/common.py", common_dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs("import numpy as np\nPurple = 8\ndef fill_with(grid, colour):\n    return np.full_like(grid, colour)\n", f);
    fclose(f);
    chmod(common_dir, 0755);
}

int main(void) {
    if (!python_ready()) {
        fprintf(stderr, "test_arc_sandbox: skipped: /usr/bin/python3 cannot import numpy and seccomp "
                        "(apt-get install python3-numpy python3-seccomp, or scripts/install-deps.sh)\n");
        return 77;
    }
    setenv("ARC_SANDBOX_SECRET", SECRET, 1);  // must never reach a program
    write_common();
    snprintf(pwned, sizeof pwned, "/tmp/arc-sandbox-pwned-%d", (int)getpid());
    snprintf(bigfile, sizeof bigfile, "/tmp/arc-sandbox-big-%d", (int)getpid());
    char common_py[128];
    snprintf(common_py, sizeof common_py, "%s/common.py", common_dir);

    mg_err e;
    int folders = private_folders();
    arc_limits limits = {.wall_s = WALL_S, .mem_mb = 256};
    double t0 = mg_seconds();
    arc_sandbox *sb = arc_sandbox_open(1, NULL, common_py, &limits, &e);
    CHECK(sb != NULL, "open: %s", e.msg);
    if (!sb) return test_summary("arc_sandbox");
    printf("open (1 worker): %.3f s\n", mg_seconds() - t0);
    CHECK(descendants() == 2, "after open: %d descendants, want the worker and its guard", descendants());

    int port = 0, ls = listener(&port);
    CHECK(ls >= 0, "cannot listen on 127.0.0.1");
    char sock_prog[512], system_prog[512], write_prog[512], abs_write_prog[512];
    snprintf(sock_prog, sizeof sock_prog,
             "import socket\ndef transform(g):\n    socket.create_connection(('127.0.0.1', %d), timeout=0.5)\n"
             "    return g\n", port);
    snprintf(system_prog, sizeof system_prog,
             "import os\ndef transform(g):\n    rc = os.system('touch %s')\n"
             "    raise OSError('os.system returned %%d' %% rc)\n", pwned);
    snprintf(write_prog, sizeof write_prog,
             "def transform(g):\n    with open('big.bin', 'wb') as f:\n        f.write(b'\\0' * (1 << 30))\n"
             "    return g\n");
    snprintf(abs_write_prog, sizeof abs_write_prog,
             "def transform(g):\n    with open('%s', 'wb') as f:\n        for i in range(1024):\n"
             "            f.write(b'\\0' * (1 << 20))\n    return g\n", bigfile);
    const hostile cases[] = {
        {"rot90", "import numpy as np\ndef transform(input_grid):\n    return np.rot90(input_grid)\n", NULL, -1},
        {"common.py", "from common import *\ndef transform(g):\n    return fill_with(g, Purple)\n", NULL, 8},
        {"list of lists", "def transform(g):\n    return [[7, 7], [7, 7]]\n", NULL, 7},
        {"wrong shape (1-D)", "import numpy as np\ndef transform(g):\n    return np.zeros(4, dtype=int)\n",
         "invalid output: not a 2-D grid", 0},
        {"ragged lists", "def transform(g):\n    return [[1, 2], [3]]\n", "invalid output: not a 2-D grid", 0},
        {"floats", "def transform(g):\n    return g * 0.5\n", "invalid output: not integers", 0},
        {"None", "def transform(g):\n    pass\n", "invalid output: not a 2-D grid", 0},
        {"values out of range", "def transform(g):\n    return g + 10\n", "values out of range", 0},
        {"negative values", "def transform(g):\n    return -g\n", "values out of range", 0},
        {"too large", "import numpy as np\ndef transform(g):\n    return np.zeros((31, 30), dtype=int)\n",
         "too large (31x30)", 0},
        {"exception", "def transform(g):\n    raise ValueError('no idea')\n", "exception: ValueError: no idea", 0},
        {"syntax error", "def transform(g) return g\n", "exception: SyntaxError", 0},
        {"no transform", "def solve(g):\n    return g\n", "no function transform", 0},
        {"sys.exit", "import sys\ndef transform(g):\n    sys.exit(0)\n", "exception: SystemExit", 0},
        {"os._exit", "import os\ndef transform(g):\n    os._exit(0)\n", "crashed: exited with status 0", 0},
        {"infinite loop", "def transform(g):\n    while True:\n        pass\n", "timeout", 0},
        {"loop at import", "while True:\n    pass\n", "timeout", 0},
        {"numpy busy loop",
         "import numpy as np\ndef transform(g):\n    a = np.ones((400, 400))\n    while True:\n"
         "        a = (a @ a) % 7\n", "timeout", 0},
        {"memory bomb (numpy)", "import numpy as np\ndef transform(g):\n    return np.ones((1 << 16, 1 << 16))\n",
         "memory", 0},
        {"memory bomb (lists)", "def transform(g):\n    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n",
         "memory", 0},
        {"fork bomb", "import os\ndef transform(g):\n    while True:\n        os.fork()\n", "forbidden system call", 0},
        {"os.system", system_prog, "forbidden system call", 0},
        {"subprocess", "import subprocess\ndef transform(g):\n    subprocess.run(['/bin/true'])\n    return g\n",
         "forbidden system call", 0},
        {"socket to 127.0.0.1", sock_prog, "forbidden system call", 0},
        {"1 GB file (cwd)", write_prog, "exception: PermissionError", 0},
        {"1 GB file (/tmp)", abs_write_prog, "exception: PermissionError", 0},
        // 1 when the secret shows anywhere the program can look: its environment, or any process's environ
        {"parent's environment",
         "import os\ndef transform(g):\n    seen = any('" SECRET "' in v for v in os.environ.values())\n"
         "    for p in os.listdir('/proc'):\n        try:\n"
         "            seen = seen or b'" SECRET "' in open('/proc/%s/environ' % p, 'rb').read()\n"
         "        except OSError:\n            pass\n    return [[int(seen)]]\n", NULL, 0},
        {"print 100 MB", "import sys\ndef transform(g):\n    sys.stdout.write('x' * 100_000_000)\n"
                         "    return [[3]]\n", NULL, 3},
        {"kill the worker", "import os\ndef transform(g):\n    os.kill(os.getppid(), 9)\n    return g\n",
         "forbidden system call", 0},
        {"kill everyone", "import os\ndef transform(g):\n    os.kill(-1, 9)\n    return g\n",
         "forbidden system call", 0},
        // the result pipe is fd 3 in the child: what a program writes there is checked like any output
        {"garbage on the result pipe", "import os\ndef transform(g):\n    os.write(3, b'{\"k\": 0, \"grid\": 5}\\n')\n"
                                       "    return g\n", "invalid output: malformed result", 0},
        {"endless result line", "import os\ndef transform(g):\n    while True:\n        os.write(3, b'[' * 4096)\n",
         "invalid output: malformed result", 0},
        {"threads", "import threading\ndef transform(g):\n    t = threading.Thread(target=print)\n    t.start()\n"
                    "    return g\n", "exception: RuntimeError", 0},
        {"rot90 again", "import numpy as np\ndef transform(g):\n    return np.rot90(g)\n", NULL, -1},
    };
    pid_t worker = arc_sandbox_worker_pid(sb, 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(sb, 1, &cases[i]);
    CHECK(arc_sandbox_worker_pid(sb, 0) == worker, "the worker was restarted: a program reached it");
    CHECK(access(pwned, F_OK) != 0, "os.system ran: %s exists", pwned);
    CHECK(access(bigfile, F_OK) != 0, "a program wrote %s", bigfile);
    unlink(pwned), unlink(bigfile);
    if (ls >= 0) {
        int c = accept(ls, NULL, NULL);
        CHECK(c < 0, "a program connected to 127.0.0.1:%d", port);
        if (c >= 0) close(c);
        close(ls);
    }
    one_grid_times_out(sb);
    kill_worker_mid_call(sb);
    arc_sandbox_close(sb);
    CHECK(descendants() == 0, "after close: %d descendants", descendants());
    CHECK(private_folders() == folders, "private folders left in /tmp: %d, %d before", private_folders(), folders);

    // Two workers: a batch spread over both, every result in its place.
    sb = arc_sandbox_open(2, NULL, NULL, &limits, &e);
    CHECK(sb != NULL, "open with 2 workers: %s", e.msg);
    if (sb) {
        CHECK(descendants() == 4, "2 workers: %d descendants", descendants());
        enum { N = 6 };
        const char *programs[N];
        char text[N][96];
        for (int p = 0; p < N; p++) {
            snprintf(text[p], sizeof text[p], "def transform(g):\n    return (g * 0 + %d)\n", p);
            programs[p] = text[p];
        }
        programs[3] = "def transform(g):\n    while True: pass\n";
        arc_grid in = input_2x2();
        arc_result r[N];
        int rc = arc_sandbox_run_many(sb, N, programs, 1, &in, r, &e);
        CHECK(rc == 0, "%s", e.msg);
        for (int p = 0; p < N && rc == 0; p++) {
            if (p == 3) CHECK(!r[p].ok && !strcmp(r[p].reason, "timeout"), "program 3: %s", r[p].reason);
            else CHECK(r[p].ok && all_cells(&r[p].grid, p), "program %d: %s", p, r[p].ok ? "wrong" : r[p].reason);
        }
        arc_results_free(r, N);
        arc_grid_free(&in);
        arc_sandbox_close(sb);
    }
    // A common.py that does not import, and a missing interpreter: open refuses, naming the cause.
    char bad_common[160];
    snprintf(bad_common, sizeof bad_common, "%s/common.py", common_dir);
    FILE *f = fopen(bad_common, "w");
    if (f) fputs("raise ImportError('broken helper library')\n", f), fclose(f);
    sb = arc_sandbox_open(1, NULL, bad_common, &limits, &e);
    CHECK(sb == NULL && strstr(e.msg, "broken helper library"), "broken common.py: %s", sb ? "opened" : e.msg);
    arc_sandbox_close(sb);
    sb = arc_sandbox_open(1, "/nonexistent/python3", NULL, &limits, &e);
    CHECK(sb == NULL && strstr(e.msg, "/nonexistent/python3"), "missing python: %s", sb ? "opened" : e.msg);
    arc_sandbox_close(sb);
    CHECK(descendants() == 0, "at the end: %d descendants", descendants());
    unlink(bad_common);
    rmdir(common_dir);
    return test_summary("arc_sandbox");
}
