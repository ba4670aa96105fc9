// The external oracle's processes: starting a worker (and the guard of its process group), finding its program,
// reaping it.
//
// Workers must not outlive us, even when we are killed with SIGKILL and run no cleanup. Each worker is its own
// process group, started with a parent-death signal (SIGKILL), which the kernel delivers to the worker only, not
// to what it started. So each group also holds a guard, a /bin/sh blocked reading the read end of a pipe whose
// only write end is ours (close-on-exec): when we are gone, by exit or by SIGKILL, its read ends and it kills its
// whole group, which is the worker and every helper that stayed in the worker's group.
#include "tasks/oracle_internal.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"

extern char **environ;

// A pipe whose ends are close-on-exec (so no other worker inherits them, which would hide EOFs) and numbered
// 3 or above (dup2 onto the same number would keep close-on-exec and the child would lose its stdin).
int oracle_make_pipe(int fd[2]) {
    if (pipe(fd) < 0) return -1;
    for (int i = 0; i < 2; i++) {
        if (fd[i] < 3) {
            int moved = fcntl(fd[i], F_DUPFD_CLOEXEC, 3);
            int err = errno;
            close(fd[i]);
            fd[i] = moved;
            if (moved < 0) {
                if (i == 1) close(fd[0]);
                errno = err;
                return -1;
            }
        } else {
            fcntl(fd[i], F_SETFD, FD_CLOEXEC);
        }
    }
    return 0;
}


// The program file for argv[0], looked up on PATH as execvp would, in o->exe. -1 with errno when none is found.
static int find_program(oracle *o) {
    const char *name = o->argv[0];
    if (strchr(name, '/')) {
        if (snprintf(o->exe, sizeof o->exe, "%s", name) >= (int)sizeof o->exe) return errno = ENAMETOOLONG, -1;
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";  // glibc's execvp default
    int err = ENOENT;
    for (const char *p = path;; p++) {
        size_t n = strcspn(p, ":");
        struct stat st;
        // an empty entry is the current directory
        if (snprintf(o->exe, sizeof o->exe, "%.*s%s%s", (int)n, p, n ? "/" : "", name) < (int)sizeof o->exe &&
            stat(o->exe, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(o->exe, X_OK) == 0) return 0;
            err = EACCES;  // as execvp: a file without execute permission is reported only if nothing better is found
        }
        p += n;
        if (!*p) break;
    }
    errno = err;
    return -1;
}

// The reason a start failed, naming the command: a missing program gets its own words, because "No such file or
// directory" also means a missing #! interpreter.
static void spawn_failed(oracle *o, worker *w, const char *what, int err) {
    const char *name = o->argv[0];
    if (err == ENOENT && !strchr(name, '/'))
        snprintf(o->spawn_error, sizeof o->spawn_error, "%s: command '%s' not found on PATH", o->name, name);
    else if (err == ENOENT && access(name, F_OK) != 0)
        snprintf(o->spawn_error, sizeof o->spawn_error, "%s: command '%s' not found (no such file)", o->name, name);
    else if (err == ENOENT)
        snprintf(o->spawn_error, sizeof o->spawn_error,
                 "%s: cannot run '%s': its interpreter (the #! line) was not found", o->name, name);
    else
        snprintf(o->spawn_error, sizeof o->spawn_error, "%s: %s '%s': %s", o->name, what, name, strerror(err));
    w->pid = -1;
}

// The child's part of start_process, between vfork and exec. It shares our memory and stack until the exec, so it
// makes system calls only, stores nothing but *err, and never returns (only _exit).
static void child_exec(const char *exe, char *const *argv, char *const *envp, int in_fd, int out_fd, pid_t parent,
                       volatile int *err) {
    // A handler of ours must not run in the child: it would write our memory. SIGPIPE gets its default back
    // (a child that writes to a closed pipe should die as usual).
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction cur;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &cur) < 0) continue;
        if (sig == SIGPIPE || (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN)) sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    // Its own process group: Ctrl-C at the terminal reaches us only (and we shut the pool down), and a kill of
    // the group also takes any helpers the oracle started.
    if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) goto failed;
    if (getppid() != parent) _exit(127);  // we died before the signal was armed: nobody would ever end it
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0) goto failed;
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(exe, argv, envp);
failed:
    *err = errno ? errno : EINVAL;
    _exit(127);
}

// Starts o->exe with stdin/stdout on the given fds (closed-on-exec ends of pipes). vfork, not fork: the parent may
// hold many gigabytes (a model), which fork would have to map again, and an MPI or CUDA process should not fork.
// Returns the pid, or -1 with errno.
static pid_t start_process(const oracle *o, int in_fd, int out_fd) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);  // until the child has reset its handlers (see child_exec)
    volatile int err = 0;
    pid_t parent = getpid();
    pid_t pid = vfork();
    if (pid == 0) child_exec(o->exe, o->argv, o->envp ? o->envp : environ, in_fd, out_fd, parent, &err);
    int fork_err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) return errno = fork_err, -1;
    if (err) {  // it has exited already: reap it
        int e = err;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        return errno = e, -1;
    }
    return pid;
}

// The guard of worker w's process group (see the top of the file). Without /bin/sh the worker runs unguarded:
// the parent-death signal still ends the worker itself, and the log says what is not covered.
static void start_guard(oracle *o, worker *w) {
    static char *const argv[] = {"sh", "-c", "read x; kill -KILL 0", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, o->lifeline[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&at);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setpgroup(&at, w->pid);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawn(&w->guard, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc == 0) return;
    w->guard = -1;
    char why[256];
    snprintf(why, sizeof why, "cannot start /bin/sh as the guard of its process group (%s): what it starts may "
             "outlive a kill -9 of this process", strerror(rc));
    oracle_log_failure(o, (int)(w - o->w), w->pid, NULL, why);
}

int oracle_spawn_worker(oracle *o, worker *w) {
    w->tried = 1;
    w->guard = -1;
    int in[2], out[2];
    if (oracle_make_pipe(in) < 0) goto pipe_failed;
    if (oracle_make_pipe(out) < 0) {
        close(in[0]), close(in[1]);
        goto pipe_failed;
    }
    pid_t pid = find_program(o) < 0 ? -1 : start_process(o, in[0], out[1]);
    int err = errno;
    close(in[0]), close(out[1]);
    if (pid < 0) {
        close(in[1]), close(out[0]);
        spawn_failed(o, w, "cannot run", err);
        oracle_log_failure(o, (int)(w - o->w), -1, NULL, o->spawn_error);
        return -1;
    }
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    w->pid = pid, w->to_child = in[1], w->from_child = out[0];
    w->busy = 0, w->len = w->scanned = 0;
    start_guard(o, w);
    return 0;
pipe_failed:
    spawn_failed(o, w, "cannot create pipes for", errno);
    oracle_log_failure(o, (int)(w - o->w), -1, NULL, o->spawn_error);
    return -1;
}

// Ends w's process: up to grace_s for it to exit by itself, then SIGKILL to its process group. Returns the wait
// status; *own_exit tells whether the process had ended before we killed it. Leaves w without a process.
int oracle_reap_worker(worker *w, double grace_s, int *own_exit) {
    double until = mg_seconds() + grace_s;
    int exited = 0;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        // WNOWAIT: keep the zombie, so the group id stays ours until after the kill below
        if (waitid(P_PID, w->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == w->pid) {
            exited = 1;
            break;
        }
        if (mg_seconds() >= until) break;
        oracle_sleep(0.002);
    }
    kill(-w->pid, SIGKILL);  // the group: the worker, its guard, and what the worker started
    if (!exited) kill(w->pid, SIGKILL);
    int status = 0;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (w->guard > 0) {
        kill(w->guard, SIGKILL);  // in case it left the group
        while (waitpid(w->guard, NULL, 0) < 0 && errno == EINTR) {
        }
        w->guard = -1;
    }
    if (w->to_child >= 0) close(w->to_child);
    close(w->from_child);
    free(w->req);
    w->req = NULL;
    w->pid = -1, w->to_child = w->from_child = -1;
    w->len = w->scanned = 0;
    if (own_exit) *own_exit = exited;
    return status;
}

void oracle_describe_exit(const oracle *o, char *dst, size_t cap, int status) {
    if (WIFSIGNALED(status))
        snprintf(dst, cap, "%s was killed by signal %d (%s)", o->name, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(dst, cap, "%s exited with status %d", o->name, WEXITSTATUS(status));
}
