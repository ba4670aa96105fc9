# Sourced by the CLI shell tests (run from the repository root, with TMP a scratch folder): two ways to count a
# result into $passed / $failed, printing "ok" or "FAIL" with the check's name.
#   check NAME COMMAND...                       passes when COMMAND succeeds
#   expect NAME STATUS PATTERN -- COMMAND...    passes on that exit status and exactly one stderr line matching
#                                               PATTERN (a one-line error)
passed=0 failed=0
check() {
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"
    else failed=$((failed + 1)); echo "FAIL $name"; fi
}
# expect NAME STATUS PATTERN -- command...: that exit status and one stderr line matching PATTERN
expect() {
    local name=$1 want=$2 pattern=$3
    shift 4
    "$@" >"$TMP/expect.out" 2>"$TMP/expect.err"
    local rc=$? lines
    lines=$(wc -l <"$TMP/expect.err")
    if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -Eq -- "$pattern" "$TMP/expect.err"; then
        passed=$((passed + 1)); echo "ok   $name: $(cat "$TMP/expect.err")"
    else
        failed=$((failed + 1)); echo "FAIL $name: exit $rc, $lines stderr lines, want /$pattern/:"; head -5 "$TMP/expect.err"
    fi
}
