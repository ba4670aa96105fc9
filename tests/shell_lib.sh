# Sourced by shell tests (not a test: no test_ prefix), after `set -u`: T, a temporary folder removed on exit, and
# ok / bad, which print one line each and count the failures in $fails (exit with $((fails > 0)) at the end).
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
