# Sourced by the CLI shell tests (run from the repository root, with TMP a scratch folder): two ways to count a
# result into $passed / $failed, printing "ok" or "FAIL" with the check's name.
#   check NAME COMMAND...                       passes when COMMAND succeeds
#   expect NAME STATUS PATTERN -- COMMAND...    passes on that exit status and exactly one stderr line matching
#                                               PATTERN (a one-line error)
# and, for tests that count their own way (tests/shell_lib.sh's refused), the test both are made of:
#   one_line_error STATUS PATTERN ERRFILE COMMAND...
passed=0 failed=0
# one_line_error STATUS PATTERN ERRFILE command...: true when the command exits with STATUS and writes exactly one
# stderr line (kept in ERRFILE), matching PATTERN (grep -E); its exit status is left in $error_status.
one_line_error() {
    local want=$1 pattern=$2 err=$3
    shift 3
    "$@" >/dev/null 2>"$err"
    error_status=$?
    [ "$error_status" -eq "$want" ] && [ "$(wc -l <"$err")" -eq 1 ] && grep -Eq -- "$pattern" "$err"
}
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
    if one_line_error "$want" "$pattern" "$TMP/expect.err" "$@"; then
        passed=$((passed + 1)); echo "ok   $name: $(cat "$TMP/expect.err")"
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $error_status, $(wc -l <"$TMP/expect.err") stderr lines, want /$pattern/:"
        head -5 "$TMP/expect.err"
    fi
}
