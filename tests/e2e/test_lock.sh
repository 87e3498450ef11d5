#!/bin/sh
# test_lock.sh: two writers of the same image at once.  Writers take an
# exclusive flock on IMAGE.lock (file_lock) around read-modify-write, so
# concurrent `aotb link` / `aotb build` runs are serialised: both finish (the
# second waits, up to 60 s, then refuses with "is being written by another
# process") and the image is always exactly one writer's result.
. "$(dirname "$0")/lib.sh"
W="$T_TMP/w"; mkdir -p "$W"
sh "$HERE/genprog.sh" 300 > "$W/a.vir"
sed 's/addi r1, r1, \([0-9]*\)$/addi r1, r1, 5\1/' "$W/a.vir" > "$W/b.vir"
for v in a b; do
    "$AOTB" compile "$W/$v.vir" -d "$W/o$v" >/dev/null 2>&1 && ls "$W/o$v"/*.o > "$W/$v.rsp" &&
        "$AOTB" link -o "$W/$v.aot" "@$W/$v.rsp" >/dev/null 2>&1 || { not_ok "reference image $v"; t_done; }
done

# is_one_of IMG: the image is exactly a.aot or b.aot and verifies.
is_one_of () {
    { cmp -s "$1" "$W/a.aot" || cmp -s "$1" "$W/b.aot"; } && "$AOTB" verify "$1" >/dev/null 2>&1
}
# refused_clearly RC ERRFILE: exit 0, or exit 1 naming the lock.
fine () {
    [ "$1" = 0 ] || { [ "$1" = 1 ] && grep -q 'being written by another process' "$2"; }
}

bad=0
for i in 1 2 3 4 5 6 7 8 9 10; do
    "$AOTB" link -o "$W/x.aot" "@$W/a.rsp" 2>"$W/e1" & p1=$!
    "$AOTB" link -o "$W/x.aot" "@$W/b.rsp" 2>"$W/e2" & p2=$!
    wait $p1; r1=$?; wait $p2; r2=$?
    if ! fine $r1 "$W/e1" || ! fine $r2 "$W/e2" || ! is_one_of "$W/x.aot"; then
        bad=$((bad + 1)); not_ok "concurrent links, round $i" "exits $r1 $r2" "$(cat "$W/e1" "$W/e2" | head -4)"
    fi
done
[ $bad = 0 ] && ok "10 rounds of two concurrent aotb link: both finish, image whole"
[ -z "$(find "$W" -maxdepth 1 -name 'x.aot.tmp.*')" ] && ok "no temporary files left by concurrent links" ||
    not_ok "no temporary files left by concurrent links" "$(ls "$W")"

# A held lock makes link wait: it finishes only after the holder lets go.
cp "$W/a.aot" "$W/y.aot"
flock "$W/y.aot.lock" sleep 1 & hold=$!
sleep 0.2
t0=$(date +%s%N)
"$AOTB" link -o "$W/y.aot" "@$W/b.rsp" 2>"$W/e"; rc=$?
t1=$(date +%s%N)
wait $hold
ms=$(( (t1 - t0) / 1000000 ))
[ $rc = 0 ] && [ $ms -ge 500 ] && cmp -s "$W/y.aot" "$W/b.aot" &&
    ok "aotb link waits for the lock on IMAGE.lock (${ms} ms)" ||
    not_ok "aotb link waits for the lock on IMAGE.lock" "exit $rc after $ms ms" "$(cat "$W/e")"

if "$AOTB" build --help >/dev/null 2>&1; then
    cp "$W/a.aot" "$W/z.aot"
    flock "$W/z.aot.lock" sleep 1 & hold=$!
    sleep 0.2
    t0=$(date +%s%N)
    "$AOTB" build "$W/b.vir" -o "$W/z.aot" >/dev/null 2>"$W/e"; rc=$?
    t1=$(date +%s%N)
    wait $hold
    ms=$(( (t1 - t0) / 1000000 ))
    [ $rc = 0 ] && [ $ms -ge 500 ] && cmp -s "$W/z.aot" "$W/b.aot" &&
        ok "aotb build waits for the lock on IMAGE.lock (${ms} ms)" ||
        not_ok "aotb build waits for the lock on IMAGE.lock" "exit $rc after $ms ms" "$(cat "$W/e")"

    bad=0
    for i in 1 2 3 4 5 6; do
        cp "$W/a.aot" "$W/z.aot"
        "$AOTB" build "$W/b.vir" -o "$W/z.aot" >/dev/null 2>"$W/e1" & p1=$!
        "$AOTB" build "$W/a.vir" -o "$W/z.aot" >/dev/null 2>"$W/e2" & p2=$!
        "$AOTB" link -o "$W/z.aot" "@$W/b.rsp" 2>"$W/e3" & p3=$!
        wait $p1; r1=$?; wait $p2; r2=$?; wait $p3; r3=$?
        if ! fine $r1 "$W/e1" || ! fine $r2 "$W/e2" || ! fine $r3 "$W/e3" || ! is_one_of "$W/z.aot"; then
            bad=$((bad + 1)); not_ok "two aotb build + aotb link at once, round $i" "exits $r1 $r2 $r3" "$(cat "$W/e1" "$W/e2" "$W/e3" | head -4)"
        fi
    done
    [ $bad = 0 ] && ok "6 rounds of two aotb build and an aotb link at once: all finish, image whole"
fi
# a temporary left by a killed writer is removed by the next writer
cp "$W/a.aot" "$W/s.aot"
printf 'half an image' > "$W/s.aot.tmp.Ab12Cd"
"$AOTB" link -o "$W/s.aot" "@$W/b.rsp" 2>"$W/e" && [ ! -e "$W/s.aot.tmp.Ab12Cd" ] && cmp -s "$W/s.aot" "$W/b.aot" &&
    ok "the next writer removes a killed writer's temporary" ||
    not_ok "the next writer removes a killed writer's temporary" "$(cat "$W/e")" "$(ls "$W")"
t_done
