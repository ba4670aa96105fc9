# Sourced by the mpi-label scripts (not a test: no test_ prefix): mpirun as root with oversubscription on the
# 2-core machine, a scratch folder $T removed (with any process still using it) at exit, and ok/fail counters.
# Expects BUILD set; sets M (the migrate binary).
M="$BUILD/migrate"
command -v mpirun >/dev/null || { echo "mpirun not installed"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_btl=self,vader
# Under ASan: keep Open MPI's plugins loaded and unwind fully, so its own allocations kept past MPI_Finalize are
# recognised by tests/lsan.supp (with fast unwinding they show one frame in whatever library now sits there).
if [ -n "${ASAN_OPTIONS:-}" ]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" OMPI_MCA_mca_base_component_disable_dlclose=1
fi
T=$(mktemp -d)
trap 'pkill -9 -f "$T/" 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
digest_of() { "$M" inspect --digest "$1/checkpoint.h5" 2>&1; }
# usr1_when PID CHECK...: waits until the command CHECK... succeeds (or PID has ended), then sends PID SIGUSR1
# (a Slurm preemption) and waits for it; returns its exit status.
usr1_when() {
    local pid=$1
    shift
    for _ in $(seq 1 1200); do
        "$@" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -USR1 "$pid" 2>/dev/null
    wait "$pid"
}
