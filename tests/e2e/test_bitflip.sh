#!/bin/sh
# test_bitflip.sh: a corrupted image is always refused, through the CLI.
# build/tools/flipbits writes a copy of a small image for every byte
# position with one bit flipped, plus multi-bit patterns, two-byte flips,
# truncations and an appended byte.  `aotb verify` must exit 1 on every copy
# (never 0: undetected; never a signal: crash); `aotb run` and `aotb dump`
# must also exit 1 without crashing (all patterns, every 8th single flip).
. "$(dirname "$0")/lib.sh"
W="$T_TMP/w"; mkdir -p "$W/flips"
printf 'memory 64\ndata 8 u64 0x1122334455667788\nblock 0x10 {\n    load r1, [r0 + 8], u64\n    jmp 0x20\n}\nblock 0x20 {\n    ret\n}\n' > "$W/p.vir"
"$AOTB" compile "$W/p.vir" -d "$W/o" >/dev/null 2>&1 && "$AOTB" link -o "$W/p.aot" "$W"/o/*.o 2>"$W/e" &&
    "$AOTB" verify "$W/p.aot" >/dev/null 2>&1 || { not_ok "a small image to corrupt" "$(cat "$W/e")"; t_done; }
size=$(wc -c < "$W/p.aot")
total=$("${BUILD:-$TOP/build}/tools/flipbits" "$W/p.aot" "$W/flips") || { not_ok "flipbits runs"; t_done; }
undetected=0 crashed=0 runbad=0 tried=0 ran=0
for f in "$W"/flips/*; do
    n=${f##*/}
    tried=$((tried + 1))
    "$AOTB" verify "$f" >/dev/null 2>"$W/err"; rc=$?
    case $rc in
    1) ;;
    0) undetected=$((undetected + 1)); [ $undetected -le 5 ] && not_ok "verify detects $n" "exit 0" ;;
    *) crashed=$((crashed + 1)); [ $crashed -le 5 ] && not_ok "verify survives $n" "exit $rc: $(head -2 "$W/err")" ;;
    esac
    case $n in b*) [ $(( ${n#b} % 8 )) = 0 ] || continue ;; esac
    ran=$((ran + 1))
    for c in run dump; do
        "$AOTB" $c "$f" >/dev/null 2>"$W/err"; rc=$?
        if [ $rc != 1 ]; then
            runbad=$((runbad + 1)); [ $runbad -le 5 ] && not_ok "aotb $c refuses $n" "exit $rc: $(head -2 "$W/err")"
        fi
    done
done
[ "$tried" = "$total" ] && [ "$tried" -gt "$size" ] && ok "$tried corrupted copies of a $size-byte image (one per byte and more)" ||
    not_ok "corrupted copies written" "$tried files, image $size bytes"
[ $undetected = 0 ] && [ $crashed = 0 ] && ok "aotb verify exits 1 on all $tried ($undetected undetected, $crashed crashes)" ||
    not_ok "aotb verify on every corruption" "$undetected undetected, $crashed crashed of $tried"
[ $runbad = 0 ] && ok "aotb run and aotb dump exit 1 on $ran corrupted copies" ||
    not_ok "aotb run and aotb dump on corrupted copies" "$runbad of $((2 * ran)) did not exit 1"
echo "# bit flips tried: $tried, undetected: $undetected"
t_done
