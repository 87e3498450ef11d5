#!/bin/sh
# test_readme.sh: the README's tour, command by command, as a new user types
# it: in a scratch copy of examples/, with the built aotb first on PATH.
# Every command exits 0, and run prints exactly what interp printed.
. "$(dirname "$0")/lib.sh"
W="$T_TMP/tour"
mkdir -p "$W/bin"
cp -R "$TOP/examples" "$W/"
ln -s "$AOTB" "$W/bin/aotb"
# The tour: the indented "aotb ..." lines after "## A short tour".
sed -n '/^## A short tour/,/^## /p' "$TOP/README.md" |
    sed -n 's/^    \(aotb .*\)$/\1/p' | sed 's/[[:space:]]*#.*$//' >"$T_TMP/tour.txt"
n=$(wc -l <"$T_TMP/tour.txt")
[ "$n" -ge 8 ] && ok "the README has a tour ($n commands)" || not_ok "the README has a tour ($n commands)"
i=0
while IFS= read -r cmd; do
    i=$((i + 1))
    (cd "$W" && PATH="$W/bin:$PATH" sh -c "$cmd") >"$T_TMP/o$i" 2>"$T_TMP/e$i"
    rc=$?
    [ $rc = 0 ] && ok "tour: $cmd" || not_ok "tour: $cmd" "exit $rc" "$(head -3 "$T_TMP/e$i")"
    case $cmd in
        "aotb interp "*) interp_out="$T_TMP/o$i" ;;
        "aotb run "*) run_out="$T_TMP/o$i" ;;
    esac
done <"$T_TMP/tour.txt"
if [ -n "${interp_out:-}" ] && [ -n "${run_out:-}" ] && [ -s "$run_out" ] && cmp -s "$interp_out" "$run_out"; then
    ok "tour: run prints the same as interp"
else not_ok "tour: run prints the same as interp"; fi
# The sum example's documented result (ir-format.md): 1 + ... + 10 = 0x37.
grep -qx 'r2: 0x0000000000000037' "${run_out:-/dev/null}" &&
    grep -qx 'mem 0x0000000000000108: 37 00 00 00 00 00 00 00' "${run_out:-/dev/null}" &&
    ok "tour: run gives the sum" || not_ok "tour: run gives the sum"
# The README says how aotb gets on PATH before the tour uses it.
sed -n '/^## A short tour/,/^## /p' "$TOP/README.md" | grep -q 'PATH' &&
    ok "the tour says how to put aotb on PATH" || not_ok "the tour says how to put aotb on PATH"
t_done
