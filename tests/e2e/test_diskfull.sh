#!/bin/sh
# test_diskfull.sh: writers on a full file system (a small tmpfs mounted in a
# private mount namespace: `unshare -m` as root, `unshare -rm` otherwise).
# Every writer must fail with a clean "No space left on device" error (exit
# 1, no signal), leave the old file byte-for-byte intact and leave no
# temporary file behind; once there is room again the update succeeds.
if [ -z "$AOTB_DISKFULL_NS" ]; then
    export AOTB_DISKFULL_NS=1
    if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then exec unshare -m sh "$0"; fi
    if unshare -rm true 2>/dev/null; then exec unshare -rm sh "$0"; fi
    echo "not ok - a private mount namespace for a small tmpfs (unshare -m needs root, unshare -rm user namespaces)"
    exit 1
fi
. "$(dirname "$0")/lib.sh"
W="$T_TMP/w"; D="$T_TMP/full"; mkdir -p "$W" "$D"
mount -t tmpfs -o size=256k tmpfs "$D" || { not_ok "mount a 256 KiB tmpfs"; t_done; }
trap 'umount "$D" 2>/dev/null; rm -rf "$T_TMP"' EXIT
sh "$HERE/genprog.sh" 300 > "$W/a.vir"
sed 's/addi r1, r1, \([0-9]*\)$/addi r1, r1, 5\1/' "$W/a.vir" > "$W/b.vir"
for v in a b; do
    "$AOTB" compile "$W/$v.vir" -d "$W/o$v" >/dev/null 2>&1 && ls "$W/o$v"/*.o > "$W/$v.rsp" &&
        "$AOTB" link -o "$W/$v.aot" "@$W/$v.rsp" >/dev/null 2>&1 || { not_ok "reference image $v"; t_done; }
done
cp "$W/a.aot" "$D/prog.aot"
cp "$W/a.vir" "$D/prog.vir"
# fill the rest (dd stops with ENOSPC), then make sure not even a page is free
dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null
dd if=/dev/zero of="$D/filler2" bs=512 2>/dev/null
cp "$D/prog.aot" "$W/before"

# clean_fail NAME FILE CMD...: exit 1, an ENOSPC message, FILE unchanged,
# no FILE.tmp.* left.
clean_fail () {
    name=$1 file=$2; shift 2
    run_capture "$@"
    tmps=$(find "$D" -name '*.tmp.*' | head -3)
    if [ "$T_RC" = 1 ] && printf '%s\n' "$T_ERR" | grep -q 'No space left on device' &&
        cmp -s "$file" "$W/before.$(basename "$file")" && [ -z "$tmps" ]; then
        ok "$name"
    else
        not_ok "$name" "exit $T_RC (wanted 1), stderr: $(printf %s "$T_ERR" | head -3)" \
            "old file intact: $(cmp -s "$file" "$W/before.$(basename "$file")" && echo yes || echo no)" "temporaries: $tmps"
    fi
    find "$D" -name '*.tmp.*' -exec rm -f {} +
}
cp "$D/prog.aot" "$W/before.prog.aot"
clean_fail "aotb link on a full disk: clean error, old image intact, no temporary" \
    "$D/prog.aot" "$AOTB" link -o "$D/prog.aot" "@$W/b.rsp"
if "$AOTB" build --help >/dev/null 2>&1; then
    cp "$W/b.vir" "$W/prog.vir"
    clean_fail "aotb build on a full disk: clean error, old image intact, no temporary" \
        "$D/prog.aot" "$AOTB" build "$W/b.vir" -o "$D/prog.aot"
fi
run_capture "$AOTB" compile "$W/b.vir" -d "$D/objs"
tmps=$(find "$D" -name '*.tmp.*' | head -3)
[ "$T_RC" = 1 ] && printf '%s\n' "$T_ERR" | grep -q 'No space left on device' && [ -z "$tmps" ] &&
    ok "aotb compile -d on a full disk: clean error, no temporary" ||
    not_ok "aotb compile -d on a full disk: clean error, no temporary" "exit $T_RC: $(printf %s "$T_ERR" | head -2)" "$tmps"
find "$D" -name '*.tmp.*' -exec rm -f {} +
run_capture "$AOTB" gen "$D/prog.vir" -o "$D/aot"
tmps=$(find "$D" -name '*.tmp.*' | head -3)
[ "$T_RC" = 1 ] && printf '%s\n' "$T_ERR" | grep -q 'No space left on device' && [ -z "$tmps" ] &&
    ok "aotb gen on a full disk: clean error, no temporary" ||
    not_ok "aotb gen on a full disk: clean error, no temporary" "exit $T_RC: $(printf %s "$T_ERR" | head -2)" "$tmps"

# room again: the update goes through
rm -f "$D/filler" "$D/filler2"
rm -rf "$D/objs" "$D/aot"
"$AOTB" link -o "$D/prog.aot" "@$W/b.rsp" 2>"$W/e" && cmp -s "$D/prog.aot" "$W/b.aot" &&
    "$AOTB" verify "$D/prog.aot" >/dev/null 2>&1 &&
    ok "with room again the link writes the new image" ||
    not_ok "with room again the link writes the new image" "$(cat "$W/e")"
t_done
