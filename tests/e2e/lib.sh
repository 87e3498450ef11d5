# lib.sh: helpers for the end-to-end tests.  Source it; each check prints
# "ok - NAME" or "not ok - NAME" (with details) and the script's exit status
# is the number of failures (capped).  $AOTB is the binary under test.
: "${AOTB:?AOTB must name the aotb binary}"
T_FAILS=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/aotb-e2e-XXXXXX") || exit 99
trap 'rm -rf "$T_TMP"' EXIT
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

ok () { printf 'ok - %s\n' "$1"; }
not_ok () { printf 'not ok - %s\n' "$1"; shift; [ $# -gt 0 ] && printf '#   %s\n' "$@"; T_FAILS=$((T_FAILS + 1)); }

# run_capture CMD...: runs CMD, stdout in $T_OUT, stderr in $T_ERR, status $T_RC.
run_capture () {
    "$@" >"$T_TMP/out" 2>"$T_TMP/err"
    T_RC=$?
    T_OUT=$(cat "$T_TMP/out")
    T_ERR=$(cat "$T_TMP/err")
}

# expect_rc NAME RC CMD...: the command exits with RC.
expect_rc () {
    name=$1 want=$2; shift 2
    run_capture "$@"
    if [ "$T_RC" = "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $T_RC, wanted $want" "stderr: $(printf %s "$T_ERR" | head -5)"; fi
}

# expect_stdout NAME EXPECTED-FILE RC CMD...: exact stdout and exit status.
expect_stdout () {
    name=$1 want=$2 wrc=$3; shift 3
    run_capture "$@"
    if [ "$T_RC" = "$wrc" ] && cmp -s "$want" "$T_TMP/out"; then ok "$name"; else
        not_ok "$name" "exit $T_RC (wanted $wrc)" "$(diff "$want" "$T_TMP/out" | head -20)" "stderr: $(printf %s "$T_ERR" | head -5)"; fi
}

# expect_err NAME PATTERN CMD...: exit 1 and a stderr line matching PATTERN
# (a grep -E regular expression).
expect_err () {
    name=$1 pat=$2; shift 2
    run_capture "$@"
    if [ "$T_RC" = 1 ] && printf '%s\n' "$T_ERR" | grep -Eq -- "$pat"; then ok "$name"; else
        not_ok "$name" "exit $T_RC (wanted 1)" "stderr: $(printf %s "$T_ERR" | head -5)" "wanted a line matching: $pat"; fi
}

t_done () { [ "$T_FAILS" -gt 100 ] && T_FAILS=100; exit "$T_FAILS"; }
