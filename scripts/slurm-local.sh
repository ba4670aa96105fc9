#!/usr/bin/env bash
# A real single-node Slurm on this machine, for tests and for trying the jobs/slurm/ templates: munged, slurmctld
# and slurmd from the Debian packages, all state, logs and the slurm.conf in one folder.
#
#   scripts/slurm-local.sh start    idempotent: keeps a healthy instance, clears one left half-dead by an earlier
#                                   run, then waits until the node is idle. Exit 77 (one line why) where it cannot
#                                   run here: not root, packages missing.
#   scripts/slurm-local.sh stop     cancels the jobs, `scontrol shutdown`, waits for the daemons; stops munged
#                                   only if start launched it.
#   scripts/slurm-local.sh status   one line; exit 0 when the controller answers and the node is usable.
#   scripts/slurm-local.sh env      prints `export SLURM_CONF=...`:  eval "$(scripts/slurm-local.sh env)"
#
# Environment: MIGRATE_SLURM_DIR (state folder, default /tmp/migrate-slurm), MIGRATE_SLURM_CPUS (CPUs the node
# advertises, default 8: more than this 2-core box has, so a 2-rank job and a 3-element array run at once),
# MIGRATE_SLURM_PORT (slurmctld port, default 6817; slurmd uses the next one).
set -uo pipefail

DIR=${MIGRATE_SLURM_DIR:-/tmp/migrate-slurm}
CONF="$DIR/slurm.conf"
CPUS=${MIGRATE_SLURM_CPUS:-8}
PORT=${MIGRATE_SLURM_PORT:-6817}
export SLURM_CONF="$CONF"

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $1" >&2; exit "${2:-1}"; }

# Pids of daemons that this script started for this folder: argv[0] ends in $1 and the argv holds our conf path.
# (Matching the exact conf path, never a bare name, so nobody else's slurmd is touched.)
our_pids() {
    local p argv args
    for p in /proc/[0-9]*; do
        { mapfile -d '' args <"$p/cmdline"; } 2>/dev/null || continue  # a builtin: no fork per process
        argv="${args[*]:-} "
        case "$argv" in
            *"$1 "*"-f $CONF "*) echo "${p#/proc/}" ;;
        esac
    done
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

node_state() { timeout 5 sinfo -h -o %T 2>/dev/null | head -1; }

status() {
    local ctld slurmd st
    ctld=$(our_pids slurmctld | head -1)
    slurmd=$(our_pids slurmd | head -1)
    [ -n "$ctld" ] || { echo "stopped: no slurmctld for $CONF"; return 1; }
    [ -n "$slurmd" ] || { echo "stopped: slurmctld pid $ctld runs but slurmd does not"; return 1; }
    st=$(node_state)
    case "$st" in
        idle* | mixed* | alloc* | completing*) echo "running: slurmctld pid $ctld, slurmd pid $slurmd, node $(hostname -s) $st, SLURM_CONF=$CONF"; return 0 ;;
        *) echo "stopped: daemons run but the node is '${st:-not answering}'"; return 1 ;;
    esac
}

# Waits until none of the given pids is alive (up to $1 seconds); returns 1 if some still are.
wait_gone() {
    local secs=$1 p left
    shift
    for _ in $(seq 1 $((secs * 5))); do
        left=0
        for p in "$@"; do alive "$p" && left=1; done
        [ "$left" = 0 ] && return 0
        sleep 0.2
    done
    return 1
}

stop() {
    local pids
    pids=$(our_pids slurmctld; our_pids slurmd)
    if [ -n "$(our_pids slurmctld)" ]; then
        # Jobs first: slurmd's shutdown leaves running steps alone, and they would outlive the daemons.
        local jobs
        jobs=$(timeout 5 squeue -h -o %i 2>/dev/null)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            timeout 5 scancel $jobs 2>/dev/null
            for _ in $(seq 1 50); do
                [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
        timeout 10 scontrol shutdown >/dev/null 2>&1
    fi
    if [ -n "$pids" ]; then
        # After `scontrol shutdown` the daemons exit within a second or two; a slurmd whose controller is gone
        # (killed, crashed) never hears it: signal what is left.
        # shellcheck disable=SC2086
        wait_gone "$([ -n "$(our_pids slurmctld)" ] && echo 15 || echo 1)" $pids ||
            { kill -TERM $pids 2>/dev/null; wait_gone 5 $pids || kill -KILL $pids 2>/dev/null; }
    fi
    if [ -f "$DIR/munged.ours" ]; then
        local m
        m=$(cat "$DIR/munged.ours")
        if alive "$m" && [ "$(cat "/proc/$m/comm" 2>/dev/null)" = munged ]; then
            kill -TERM "$m"
            wait_gone 5 "$m" || kill -KILL "$m" 2>/dev/null
        fi
        rm -f "$DIR/munged.ours"
    fi
    say "stopped${pids:+ (slurm pids $(echo $pids))}"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi  # a working munged: use it
    [ -s /etc/munge/munge.key ] || mungekey -c >/dev/null 2>&1 || die "cannot create /etc/munge/munge.key (mungekey -c failed)"
    chown munge:munge /etc/munge/munge.key 2>/dev/null
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    # --force: a socket or pid file left by a munged that died is not a reason to refuse.
    runuser -u munge -- /usr/sbin/munged --force >"$DIR/munged.start.log" 2>&1 ||
        die "munged did not start: $(tail -1 "$DIR/munged.start.log")"
    for _ in $(seq 1 25); do
        if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
            cat /run/munge/munged.pid >"$DIR/munged.ours" 2>/dev/null
            return 0
        fi
        sleep 0.2
    done
    die "munged started but 'munge -n | unmunge' fails: $(tail -1 /var/log/munge/munged.log 2>/dev/null)"
}

write_conf() {
    local host mem
    host=$(hostname -s)
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
    cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: one node, everything under $DIR.
ClusterName=migrate-local
SlurmctldHost=$host
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
# A job too big for the node is refused at submission instead of pending forever.
EnforcePartLimits=ALL
ReturnToService=2
MailProg=/bin/true
# Finished jobs stay visible to scontrol for a minute (no accounting here, so no sacct).
MinJobAge=60
KillWait=5
InactiveLimit=0
# The node advertises $CPUS CPUs whatever it has, so multi-rank jobs and arrays fit on a small machine.
SlurmdParameters=config_overrides
NodeName=$host CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

start() {
    [ "$(id -u)" -eq 0 ] || die "not root: a local Slurm needs root (munged, slurmd); skipping" 77
    local c missing=()
    for c in slurmctld slurmd sinfo sbatch scontrol munged munge unmunge; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    [ ${#missing[@]} -eq 0 ] ||
        die "missing ${missing[*]}: install the Debian packages slurmctld slurmd slurm-client munge (scripts/install-deps.sh)" 77
    if status >/dev/null 2>&1; then
        say "already $(status)"
        return 0
    fi
    # Whatever is left from an earlier run (dead pids, a half-started daemon, stale state) goes.
    if [ -n "$(our_pids slurmctld)$(our_pids slurmd)" ]; then stop >/dev/null; fi
    rm -rf "$DIR/state" "$DIR/spool" "$DIR"/*.log "$DIR"/*.pid
    mkdir -p "$DIR/state" "$DIR/spool"
    start_munge
    write_conf
    local host
    host=$(hostname -s)
    if ! getent hosts "$host" >/dev/null; then
        echo "127.0.0.1 $host" >>/etc/hosts || die "hostname '$host' does not resolve and /etc/hosts is not writable"
    fi
    slurmctld -f "$CONF" >"$DIR/slurmctld.start.log" 2>&1 ||
        die "slurmctld did not start: $(tail -1 "$DIR/slurmctld.start.log") (log: $DIR/slurmctld.log)"
    slurmd -f "$CONF" >"$DIR/slurmd.start.log" 2>&1 ||
        die "slurmd did not start: $(tail -1 "$DIR/slurmd.start.log") (log: $DIR/slurmd.log)"
    local st=""
    for _ in $(seq 1 150); do
        st=$(node_state)
        case "$st" in idle*) say "running: node $host idle, $CPUS CPUs, SLURM_CONF=$CONF"; return 0 ;; esac
        sleep 0.2
    done
    local why
    why=$(grep -h -i -E "error|fatal" "$DIR/slurmctld.log" "$DIR/slurmd.log" 2>/dev/null | tail -1)
    stop >/dev/null
    die "the node did not become idle in 30 s (state '${st:-no answer}'): ${why:-see $DIR/*.log}"
}

case "${1:-}" in
    start) mkdir -p "$DIR" && start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: scripts/slurm-local.sh start|stop|status|env" >&2; exit 2 ;;
esac
