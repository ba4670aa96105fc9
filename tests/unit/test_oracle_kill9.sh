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
    [ -f "$pids" ] && while read -r _ p; do kill -9 "$p" 2>/dev/null; done <"$pids"
    rm -rf "$tmp"
}
trap cleanup EXIT

# The oracle: records its pid, and answers nothing: each request starts a helper and waits for it.
cat >"$tmp/oracle.sh" <<'EOF'
echo "worker $$" >>"$1/pids"
while read -r line; do
    sleep 300 &
    echo "helper $!" >>"$1/pids"
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
count() {
    local n
    n=$(grep -c "^$1 " "$pids" 2>/dev/null)
    echo "${n:-0}"
}
for _ in $(seq 1 600); do
    [ "$(count worker)" -ge 2 ] && [ "$(count helper)" -ge 1 ] && break
    kill -0 $migrate 2>/dev/null || break
    sleep 0.1
done
if ! [ "$(count worker)" -ge 2 ] || ! [ "$(count helper)" -ge 1 ]; then
    echo "FAIL: the 2 oracle workers were not both started and inside a call (migrate ended, or 60 s passed):"
    cat "$pids" "$tmp/log" 2>/dev/null; kill -9 $migrate 2>/dev/null; exit 1
fi
sleep 0.2  # the second worker's helper, when it has a call too
workers=$(sed -n 's/^worker //p' "$pids")
kill -9 $migrate
wait $migrate 2>/dev/null

left="" polls=0
for _ in $(seq 1 50); do  # 5 s
    polls=$((polls + 1))
    left=""
    while read -r what p; do alive "$p" && left+=" $p($what)"; done <"$pids"
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
echo "test_oracle_kill9: ok: $(count worker) workers, $(count helper) helpers and their process groups were gone at" \
    "poll $polls (every 0.1 s) after migrate's kill -9"
