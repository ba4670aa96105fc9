#!/usr/bin/python3
# The ARC sandbox's worker (tasks/arc/sandbox.c starts it; docs/arc-sandbox.md has the guarantees).
#
# A warm process: numpy (and the user's common.py) are imported once; each request is one model-written program
# and the input grids to run it on. Per program it forks a child that locks itself down (rlimits, no root, a
# parent-death signal, an empty private folder, a cleared environment, seccomp) before it compiles the program,
# and answers one JSON line per grid through a pipe. This process watches the clock per grid, kills the child on
# time, drains and caps what the child prints, checks every output grid again itself (the child is hostile and
# may write anything on its pipe), and so survives whatever the program does.
#
# Protocol (JSON lines on stdin/stdout):
#   request {"id": N, "program": TEXT, "grids": [GRID, ...], "limits": {"wall_s": 2, "mem_mb": 512, "cpu_s": 2,
#            "output_bytes": 4096}}
#   reply   {"id": N, "results": [{"grid": GRID} | {"error": REASON}, ...], "output": TEXT}
#           or {"id": N, "error": TEXT} when the worker itself cannot run programs (common.py failed to import).
# REASON: "timeout", "timeout (CPU)", "memory", "exception: ValueError: ...", "invalid output: ...",
# "values out of range", "too large (31x30)", "forbidden system call", "crashed: ...".
import os

# Before numpy is imported: one thread for its BLAS and OpenMP pools (a program gets one core, and the worker's
# children must not start threads; the C side sets these too).
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import ctypes
import errno
import json
import random
import resource
import select
import shutil
import signal
import sys
import tempfile
import time

import numpy as np

try:
    import seccomp
except ImportError:  # reported in every reply, so that the sandbox refuses to open
    seccomp = None

sys.dont_write_bytecode = True

MAX_SIDE = 30
NOBODY = 65534
RESULT_LINE_CAP = 1 << 16     # a result line longer than this is not a grid of at most 30 x 30 cells
MESSAGE_CAP = 300             # characters of an exception message kept in a reason
DEFAULTS = {"wall_s": 2.0, "mem_mb": 512, "cpu_s": None, "output_bytes": 4096}

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


# ---- the child: lock down, then run the program ----

def deny_rules(f, me):
    """Adds the seccomp rules: process creation, exec, network, tracing, signals to other processes, writing
    files and changing the file system, and the administrative calls a root process could reach."""
    kill = seccomp.KILL_PROCESS
    eperm = seccomp.ERRNO(errno.EPERM)
    Arg = seccomp.Arg

    def rule(action, name, *args):
        try:
            f.add_rule(action, name, *args)
        except (RuntimeError, ValueError, OSError):
            pass  # a call this kernel or libseccomp does not know: nothing to deny

    # New processes and programs: fatal. clone is allowed for threads only; clone3 says "not implemented" so that
    # glibc falls back to clone, whose flags the filter can see.
    for name in ("fork", "vfork", "execve", "execveat"):
        rule(kill, name)
    rule(kill, "clone", Arg(0, seccomp.MASKED_EQ, 0x00010000, 0))  # CLONE_THREAD clear
    rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # The network and every other socket (a Unix socket could reach a daemon): fatal.
    for name in ("socket", "socketpair", "connect", "bind", "listen", "accept", "accept4"):
        rule(kill, name)
    # Tracing and other processes' memory, signals to anyone but itself, session and group changes (the child
    # must stay in the worker's process group, which the pool kills as a whole).
    for name in ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd",
                 "pidfd_send_signal", "tkill", "setsid", "setpgid", "kcmp"):
        rule(kill, name)
    for name in ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        rule(kill, name, Arg(0, seccomp.NE, me))
    # Opening for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND) fails with EPERM, as does every change to
    # the file system: a program may probe, and gets an exception.
    for mask in (0o3, 0o100, 0o1000, 0o2000):  # O_ACCMODE, O_CREAT, O_TRUNC, O_APPEND
        for value in ((1, 2, 3) if mask == 0o3 else (mask,)):
            rule(eperm, "open", Arg(1, seccomp.MASKED_EQ, mask, value))
            rule(eperm, "openat", Arg(2, seccomp.MASKED_EQ, mask, value))
    rule(seccomp.ERRNO(errno.ENOSYS), "openat2")  # its flags are behind a pointer: glibc falls back to openat
    for name in ("creat", "truncate", "ftruncate", "rename", "renameat", "renameat2", "unlink", "unlinkat",
                 "mkdir", "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat",
                 "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "utime", "utimes",
                 "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
                 "fremovexattr", "memfd_create", "memfd_secret", "name_to_handle_at", "open_by_handle_at",
                 "fallocate", "copy_file_range", "splice", "tee", "vmsplice", "sendfile"):
        rule(eperm, name)
    # Limits stay as set (a root child could raise them); prlimit64 with no new limit is a read.
    for name in ("setrlimit", "setpriority", "sched_setaffinity", "sched_setscheduler", "sched_setparam"):
        rule(eperm, name)
    rule(eperm, "prlimit64", Arg(2, seccomp.NE, 0))
    rule(eperm, "prctl", Arg(0, seccomp.EQ, PR_SET_PDEATHSIG))
    rule(eperm, "prctl", Arg(0, seccomp.EQ, PR_SET_DUMPABLE))
    # Namespaces, mounts, kernel objects, io_uring (whose operations the filter would not see), admin calls.
    for name in ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
                 "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "bpf", "perf_event_open",
                 "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
                 "request_key", "fanotify_init", "reboot", "kexec_load", "kexec_file_load", "init_module",
                 "finit_module", "delete_module", "swapon", "swapoff", "sethostname", "setdomainname",
                 "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "acct", "quotactl", "syslog",
                 "iopl", "ioperm", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
                 "setgroups", "setfsuid", "setfsgid", "capset", "personality", "lookup_dcookie",
                 "add_key", "uselib", "vhangup", "nfsservctl", "migrate_pages", "move_pages", "mbind",
                 "set_mempolicy"):
        rule(eperm, name)


def lock_down(limits, tmp, parent, out_fd, res_fd):
    """The child's setup, in order: descriptors, folder, limits, user, death signal, environment, seeds,
    seccomp. Anything failing here ends the child (the worker reports it)."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    if res_fd != 3:
        os.dup2(res_fd, 3)
    os.closerange(4, 1 << 20)
    # The folder is removed at once: the child keeps it as its working directory, empty, private, and unable to
    # gain entries, and nothing is left behind even if the worker is killed before it cleans up.
    os.chdir(tmp)
    os.rmdir(tmp)
    as_bytes = vm_size() + int(limits["mem_mb"]) * (1 << 20)
    cpu = int(limits["cpu_s"]) + 1
    for res, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_NOFILE, 32),
                       (resource.RLIMIT_AS, as_bytes), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_NPROC, 0)):
        resource.setrlimit(res, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the size limit fails instead of killing
    if os.geteuid() == 0:
        # Root's powers (signals to anyone, reading any file, raising limits, RLIMIT_NPROC not binding) go with
        # the user: the program runs as nobody.
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    # Changing the user cleared any parent-death signal, so it is set now; a parent gone before it was armed
    # would never kill us.
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
        os._exit(70)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.environ.clear()
    random.seed(0)
    np.random.seed(0)
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    deny_rules(f, os.getpid())
    f.load()


def vm_size():
    with open("/proc/self/statm") as s:
        return int(s.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def describe_exception(exc):
    if isinstance(exc, MemoryError):
        return "memory"
    text = "exception: %s: %s" % (type(exc).__name__, exc)
    return text[:MESSAGE_CAP]


def check_output(out):
    """A reason why `out` is not an ARC grid, or the grid as a list of rows of ints."""
    try:
        a = np.asarray(out)
    except Exception:
        return None, "invalid output: not a 2-D grid"
    if a.ndim != 2:
        return None, "invalid output: not a 2-D grid"
    if a.shape[0] == 0 or a.shape[1] == 0:
        return None, "invalid output: empty grid"
    if a.shape[0] > MAX_SIDE or a.shape[1] > MAX_SIDE:
        return None, "too large (%dx%d)" % a.shape
    if a.dtype.kind not in "iu":
        return None, "invalid output: not integers (%s)" % a.dtype
    if a.min() < 0 or a.max() > 9:
        return None, "values out of range"
    return a.astype(np.int64).tolist(), None


def child_main(program, grids, first, limits, tmp, parent, out_fd, res_fd):
    lock_down(limits, tmp, parent, out_fd, res_fd)
    res = os.fdopen(3, "w", buffering=1)

    def say(obj):
        res.write(json.dumps(obj) + "\n")

    try:
        scope = {"__name__": "__arc_program__", "__builtins__": __builtins__}
        exec(compile(program, "<program>", "exec"), scope)
        transform = scope.get("transform")
        if not callable(transform):
            say({"all": "no function transform"})
            return
    except BaseException as exc:  # SystemExit included: the program's own top level failed
        say({"all": describe_exception(exc)})
        return
    say({"ready": True})
    for k in range(first, len(grids)):
        try:
            out = transform(np.array(grids[k], dtype=np.int64))
            grid, why = check_output(out)
        except BaseException as exc:
            grid, why = None, describe_exception(exc)
        say({"k": k, "error": why} if why else {"k": k, "grid": grid})


# ---- the worker: fork, watch, check ----

def valid_grid(g):
    if not isinstance(g, list) or not 1 <= len(g) <= MAX_SIDE:
        return False
    width = len(g[0]) if isinstance(g[0], list) else 0
    if not 1 <= width <= MAX_SIDE:
        return False
    for row in g:
        if not isinstance(row, list) or len(row) != width:
            return False
        for v in row:
            if type(v) is not int or not 0 <= v <= 9:
                return False
    return True


def death_reason(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGSYS:
            return "forbidden system call"
        if sig == signal.SIGXCPU:
            return "timeout (CPU)"
        return "crashed: killed by signal %d (%s)" % (sig, signal.Signals(sig).name)
    return "crashed: exited with status %d" % os.WEXITSTATUS(status)


def run_child(program, grids, first, limits, results, output):
    """Runs the program on grids[first:] in one child; fills results[k] for every grid it got to. Returns the
    index of the first grid still without a result (len(grids) when done)."""
    tmp = tempfile.mkdtemp(prefix="arc-")
    try:
        if os.geteuid() == 0:
            os.chown(tmp, NOBODY, NOBODY)
        os.chmod(tmp, 0o700)
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                child_main(program, grids, first, limits, tmp, parent, out_w, res_w)
            except BaseException:
                code = 71  # the lock-down failed: never run the program unprotected
            os._exit(code)
        os.close(out_w)
        os.close(res_w)
        try:
            return watch(pid, grids, first, limits, results, output, out_r, res_r)
        finally:
            os.close(out_r)
            os.close(res_r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def watch(pid, grids, first, limits, results, output, out_r, res_r):
    wall = float(limits["wall_s"])
    cap = int(limits["output_bytes"])
    k = first           # the grid the child is on
    ready = False
    deadline = time.monotonic() + wall
    buf = b""
    open_fds = [out_r, res_r]
    failure = None      # why the child is being stopped early
    while open_fds and k < len(grids) and failure is None:
        left = deadline - time.monotonic()
        if left <= 0:
            failure = "timeout"
            break
        readable, _, _ = select.select(open_fds, [], [], left)
        for fd in readable:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
                continue
            if fd == out_r:
                if len(output) < cap:
                    output.extend(chunk[:cap - len(output)])
                continue
            buf += chunk
            while b"\n" in buf and failure is None and k < len(grids):
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    msg = None
                if not isinstance(msg, dict):
                    failure = "invalid output: malformed result"
                elif msg.get("ready") is True and not ready:
                    ready = True
                    deadline = time.monotonic() + wall
                elif isinstance(msg.get("all"), str):
                    failure = "all:" + msg["all"][:MESSAGE_CAP]
                elif not ready or msg.get("k") != k:
                    failure = "invalid output: malformed result"
                elif isinstance(msg.get("error"), str):
                    results[k] = {"error": msg["error"][:MESSAGE_CAP]}
                    k += 1
                    deadline = time.monotonic() + wall
                elif valid_grid(msg.get("grid")):
                    results[k] = {"grid": msg["grid"]}
                    k += 1
                    deadline = time.monotonic() + wall
                else:
                    failure = "invalid output: malformed result"
            if len(buf) > RESULT_LINE_CAP and failure is None:
                failure = "invalid output: malformed result"
    # Done, timed out, or misbehaving: the child goes now, whatever it is doing.
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    if k >= len(grids):
        return k
    if failure is None:  # it ended by itself before answering grid k
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) in (70, 71):
            failure = "sandbox setup failed in the child (status %d)" % os.WEXITSTATUS(status)
        else:
            failure = death_reason(status)
    if failure.startswith("all:") or not ready:
        # The program failed before transform existed: every remaining grid fails the same way.
        reason = failure[4:] if failure.startswith("all:") else failure
        for j in range(k, len(grids)):
            results[j] = {"error": reason}
        return len(grids)
    results[k] = {"error": failure}
    return k + 1


def limits_of(req):
    limits = dict(DEFAULTS)
    given = req.get("limits")
    if isinstance(given, dict):
        for key in DEFAULTS:
            if isinstance(given.get(key), (int, float)) and not isinstance(given.get(key), bool):
                limits[key] = given[key]
    limits["wall_s"] = min(max(float(limits["wall_s"]), 0.01), 600.0)
    limits["mem_mb"] = min(max(int(limits["mem_mb"]), 16), 1 << 20)
    limits["output_bytes"] = min(max(int(limits["output_bytes"]), 0), 1 << 20)
    cpu = limits["cpu_s"]
    limits["cpu_s"] = min(max(float(cpu), 1.0), 3600.0) if cpu is not None else limits["wall_s"]
    return limits


def handle(req, setup_error):
    rid = req.get("id")
    if setup_error:
        return {"id": rid, "error": setup_error}
    program, grids = req.get("program"), req.get("grids")
    if not isinstance(program, str) or not isinstance(grids, list) or not all(valid_grid(g) for g in grids):
        return {"id": rid, "error": "bad request: needs a program text and a list of grids"}
    limits = limits_of(req)
    # The CPU limit covers the whole child: the program's load and every grid it may reach.
    limits["cpu_s"] = limits["cpu_s"] * (len(grids) + 1)
    results = [None] * len(grids)
    output = bytearray()
    k = 0
    while k < len(grids):
        k = run_child(program, grids, k, limits, results, output)
    return {"id": rid, "results": results, "output": output.decode("utf-8", "replace")}


def import_common(path):
    """The user's common.py, imported here once so that `from common import *` in a program needs no file."""
    if not path:
        return None
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        name = os.path.splitext(os.path.basename(path))[0]
        if name != "common":
            return "common.py: the file must be named common.py, got %s" % os.path.basename(path)
        __import__("common")
    except BaseException as exc:
        return "cannot import common.py: %s: %s" % (type(exc).__name__, str(exc)[:MESSAGE_CAP])
    finally:
        sys.path.pop(0)
    return None


def main():
    common = None
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--common":
        common = args[1]
    elif args:
        sys.stderr.write("usage: arc_worker.py [--common PATH/common.py]\n")
        return 2
    setup_error = None if seccomp else "python3-seccomp is not installed (the seccomp module is missing)"
    setup_error = setup_error or import_common(common)
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        try:
            req = json.loads(raw)
        except ValueError:
            req = None
        reply = handle(req, setup_error) if isinstance(req, dict) else {"id": None, "error": "bad request"}
        sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
