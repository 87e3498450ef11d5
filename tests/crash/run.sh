#!/bin/sh
# run.sh SCRIPT...: runs the long test scripts (make check-crash,
# make check-valgrind), showing their ok / not ok lines as they come, then
# one "N passed, N failed" line; exit status 0 only when nothing failed.
passed=0 failed=0
log=$(mktemp "${TMPDIR:-/tmp}/aotb-long-XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT
for s in "$@"; do
    echo "== $s"
    sh "$s" 2>&1 | tee "$log" | grep -v '^ok - '
    p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log")
    echo "   $p ok, $f not ok"
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
