#!/usr/bin/env bash
# `kill -9` of migrate while its oracle workers are inside a call: each worker, and the helper it started (a
# `sleep` grandchild), must be gone within a few seconds, as must everything else in the workers' process groups
# (their guards). No cleanup of migrate's runs after SIGKILL: this is the parent-death signal and the per-group
# guard of tasks/oracle.c at work (docs/oracle.md, "Process lifetime").
# Usage: test_oracle_kill9.sh BUILD_DIR   (run from the repository root)
set -u
BUILD=${1:?usage: test_oracle_kill9.sh BUILD_DIR}
tmp=$(mktemp -d /tmp/test_oracle_kill9.XXXXXX)
pids="$tmp/pids"
cleanup() {  # a failed check must not leave its sleepers behind
    [ -f "$pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null; done <"$pids"
    rm -rf "$tmp"
}
trap cleanup EXIT

# The oracle: records its pid, and answers nothing: each request starts a helper and waits for it.
cat >"$tmp/oracle.sh" <<'EOF'
echo $$ >>"$1/pids"
while read -r line; do
    sleep 300 &
    echo $! >>"$1/pids"
    wait
done
EOF

# Running: not a zombie (an orphan's zombie may wait for a PID 1 that does not reap).
alive() {
    local st
    st=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}
# The running processes whose process group is $1.
group_members() {
    local f line st ppid pgrp
    for f in /proc/[0-9]*/stat; do
        line=$(cat "$f" 2>/dev/null) || continue
        read -r st ppid pgrp _ <<<"${line##*) }"  # after the command name, which may hold anything
        [ "$pgrp" = "$1" ] && [ "$st" != Z ] && echo "${line%% *}"
    done
}

"$BUILD/migrate" run jobs/oracle-example.yaml --quiet --set iterations=1 --set strategy=random --set threads=1 \
    --set output_dir="$tmp/run" --set "task.command=sh $tmp/oracle.sh $tmp" --set task.workers=2 \
    --set task.timeout=600 --set search.num_on_policy=4 --set search.num_neighborhood=0 >"$tmp/log" 2>&1 &
migrate=$!
# 2 workers, and at least one of them inside a call (its helper started)
for _ in $(seq 1 600); do
    [ "$(cat "$pids" 2>/dev/null | wc -l)" -ge 3 ] && break
    sleep 0.1
done
if [ "$(cat "$pids" 2>/dev/null | wc -l)" -lt 3 ]; then
    echo "FAIL: the oracle workers did not get a call within 60 s"; cat "$tmp/log"; kill -9 $migrate; exit 1
fi
sleep 0.2  # the second worker's helper, when it has a call too
workers=$(head -2 "$pids")
kill -9 $migrate
wait $migrate 2>/dev/null

left=""
for _ in $(seq 1 50); do  # 5 s
    left=""
    while read -r p; do alive "$p" && left+=" $p"; done <"$pids"
    if [ -z "$left" ]; then  # then the rest of their groups (a scan of /proc: only once they are gone)
        for w in $workers; do for p in $(group_members "$w"); do left+=" $p(group $w)"; done; done
    fi
    [ -z "$left" ] && break
    sleep 0.1
done
if [ -n "$left" ]; then
    echo "FAIL: after kill -9 of migrate, still running 5 s later:$left"
    ps -o pid,ppid,pgid,stat,args -p "$(echo $left | sed 's/([^)]*)//g; s/ /,/g')" 2>/dev/null
    exit 1
fi
echo "test_oracle_kill9: ok: $(wc -l <"$pids") oracle processes (2 workers, their helpers) and their groups ended with migrate"
