# Sourced by tests/slurm/test_slurm_*.sh (BUILD_DIR is their $1; they run from the repository root): starts the
# local Slurm of scripts/slurm-local.sh for the test and stops it on exit, whatever happens. Exit 77 (ctest: skipped)
# where it cannot run here (not root, packages missing), unless MIGRATE_REQUIRE_SLURM=1 (CI) makes that a failure.
set -u
BIN=$(realpath "$1/migrate")
TMP=$(mktemp -d /tmp/migrate-slurm-test.XXXXXX)
chmod 755 "$TMP"
passed=0 failed=0

# One local Slurm on the machine at a time, whichever build folder's ctest runs the test.
# (A user who cannot write the lock cannot start Slurm either: slurm-local.sh says why below.)
{ exec 9>>/tmp/migrate-slurm-test.lock; } 2>/dev/null || exec 9>/dev/null
flock -w 900 9 || { echo "FAIL another Slurm test held /tmp/migrate-slurm-test.lock for 15 minutes"; exit 1; }
# 9>&-: the daemons must not inherit the lock (they would hold it as long as they live).
start_out=$(scripts/slurm-local.sh start 2>&1 9>&-)
case $? in
    0) echo "$start_out" ;;
    77) echo "SKIP $start_out"
        rm -rf "$TMP"
        [ "${MIGRATE_REQUIRE_SLURM:-0}" = 1 ] && { echo "FAIL MIGRATE_REQUIRE_SLURM=1 but Slurm cannot run here"; exit 1; }
        exit 77 ;;
    *) echo "FAIL $start_out"; rm -rf "$TMP"; exit 1 ;;
esac
finish() {
    scripts/slurm-local.sh stop 9>&-
    rm -rf "$TMP"
}
trap finish EXIT
eval "$(scripts/slurm-local.sh env)"

# check NAME COMMAND...: counts and prints ok / FAIL
check() {
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"
    else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# The job's state as scontrol reports it (finished jobs stay visible for MinJobAge = 60 s), e.g. COMPLETED.
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }

# wait_gone JOBID SECONDS: until no element of the job is pending or running; 1 on timeout.
wait_gone() {
    local i
    for i in $(seq 1 $(($2 * 5))); do
        [ -z "$(squeue -h -j "$1" -o %i 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    echo "     job $1 still queued after $2 s:"; squeue -j "$1"
    return 1
}

# A run's summary.json without its timings (which differ between any two runs).
summary_sans_time() { grep -v -E '"(sample|score|train|total)":' "$1"; }

# The end: a line of totals, exit 1 if anything failed (the daemons' logs help then).
report() {
    echo "$passed passed, $failed failed"
    if [ "$failed" -gt 0 ]; then
        echo "--- last lines of slurmctld.log / slurmd.log:"
        tail -n 5 "${MIGRATE_SLURM_DIR:-/tmp/migrate-slurm}/slurmctld.log" "${MIGRATE_SLURM_DIR:-/tmp/migrate-slurm}/slurmd.log"
        exit 1
    fi
    exit 0
}
