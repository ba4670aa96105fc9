# Sourced by shell tests (not a test: no test_ prefix), after `set -u`: T, a temporary folder removed on exit;
# ok / bad, which print one line each and count the failures in $fails (exit with $((fails > 0)) at the end); and
# refused, for a command that must fail with one clear line (tests/checks.sh's one_line_error).
source tests/checks.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# refused RC PATTERN CMD...: CMD must exit with RC and say one line on stderr that matches PATTERN (grep -E).
refused() {
    local want=$1 pattern=$2
    shift 2
    if one_line_error "$want" "$pattern" "$T/refused.err" "$@"; then ok "refused: $(cat "$T/refused.err")"
    else bad "$* -> exit $error_status: $(head -3 "$T/refused.err")"; fi
}
