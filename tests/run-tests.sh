#!/bin/sh
# run-tests.sh: runs the CUnit suites given as arguments and every
# tests/e2e/*.sh script, then prints one closing "N passed, N failed" line.
# Exit status 0 only when nothing failed.
#   --unit  only the suites      --e2e  only the end-to-end scripts
mode=all
case "$1" in --unit) mode=unit; shift ;; --e2e) mode=e2e; shift ;; esac
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
log=$(mktemp "${TMPDIR:-/tmp}/aotb-tests-XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT

if [ "$mode" != e2e ]; then
    for t in "$@"; do
        "$t" >"$log" 2>&1
        rc=$?
        line=$(grep '^TESTS ' "$log" | tail -n 1)
        if [ -n "$line" ]; then
            set -- $line
            run=$2 bad=$3
        else
            run=1 bad=1
        fi
        if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
        if [ "$bad" -ne 0 ]; then
            echo "FAIL unit $(basename "$t") ($bad of $run failed, exit $rc):"
            grep -v '^TESTS ' "$log" | tail -n 40 | sed 's/^/    /'
        else
            echo "PASS unit $(basename "$t") ($run tests)"
        fi
        passed=$((passed + run - bad)); failed=$((failed + bad))
    done
fi

if [ "$mode" != unit ]; then
    for s in "$here"/e2e/test_*.sh; do
        [ -e "$s" ] || continue
        sh "$s" >"$log" 2>&1
        rc=$?
        p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log")
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        if [ "$f" -ne 0 ]; then
            echo "FAIL e2e $(basename "$s") ($f failed):"
            grep -v '^ok - ' "$log" | tail -n 40 | sed 's/^/    /'
        else
            echo "PASS e2e $(basename "$s") ($p checks)"
        fi
        passed=$((passed + p)); failed=$((failed + f))
    done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
