#!/bin/sh
# test_image.sh: aotb compile -d + aotb link + aotb run against aotb interp
# on every example and test program; aotb verify / dump; real-tool checks
# of the image (readelf, eu-elflint); malformed images; link errors; the
# atomic write of the image.
. "$(dirname "$0")/lib.sh"

W=$T_TMP/w
mkdir -p "$W"

# ---- every program: run on the image == interp on the source -----------
for prog in "$TOP"/examples/*.vir "$TOP"/tests/programs/*.vir; do
    [ -e "$prog" ] || continue
    n=$(basename "$prog" .vir)
    d=$W/$n.obj
    if ! "$AOTB" compile "$prog" -d "$d" 2>"$T_TMP/err"; then
        not_ok "$n: compile -d" "$(head -5 "$T_TMP/err")"; continue
    fi
    expect_rc "$n: link" 0 "$AOTB" link -o "$W/$n.aot" "$d"/*.o
    [ "$T_RC" = 0 ] || continue
    expect_rc "$n: verify" 0 "$AOTB" verify "$W/$n.aot"
    case "$T_OUT" in "$W/$n.aot: ok ("*" block"*", "*" chunk"*")") ok "$n: verify message" ;;
        *) not_ok "$n: verify message" "$T_OUT" ;; esac
    for opts in "" "--dump-mem 0:64" "--max-blocks 0" "--max-blocks 3" "--max-blocks 1000" "--set r1=7 --set r2=-1"; do
        # shellcheck disable=SC2086
        "$AOTB" interp $opts "$prog" >"$T_TMP/want" 2>/dev/null
        irc=$?
        # shellcheck disable=SC2086
        expect_stdout "$n: run $opts == interp" "$T_TMP/want" "$irc" "$AOTB" run $opts "$W/$n.aot"
    done
done

# ---- one image in detail -----------------------------------------------
P=$TOP/examples/sum.vir
[ -e "$P" ] || P=$(ls "$TOP"/tests/programs/*.vir | head -1)
OBJ=$W/d.obj
"$AOTB" compile "$P" -d "$OBJ" || not_ok "compile $P"
IMG=$W/p.aot
expect_rc "link" 0 "$AOTB" link -o "$IMG" "$OBJ"/*.o

# Deterministic, whatever the object order; @RSPFILE gives the same image.
ls "$OBJ"/*.o | sort -r > "$W/rsp"
expect_rc "link @RSPFILE, reversed order" 0 "$AOTB" link -o "$W/p2.aot" "@$W/rsp"
cmp -s "$IMG" "$W/p2.aot" && ok "same bytes whatever the object order" || not_ok "same bytes whatever the object order"

if command -v readelf >/dev/null 2>&1; then
    readelf -S -W "$IMG" > "$W/sections"
    grep -E '\.text\.aotb\.0 +PROGBITS .* XC ' "$W/sections" >/dev/null &&
        ok "readelf -S: .text.aotb.0 has flag C" || not_ok "readelf -S: .text.aotb.0 has flag C" "$(cat "$W/sections")"
    readelf -h "$IMG" | grep -q 'REL (Relocatable file)' && ok "readelf: ET_REL" || not_ok "readelf: ET_REL"
    # The decompressed chunk starts with the first block's code, which
    # objcopy takes from that block's object.
    first=$(ls "$OBJ"/*.o | grep -v meta.o | sort | head -1)
    readelf -x .text.aotb.0 -z "$IMG" 2>"$T_TMP/err" |
        sed -n 's/^  0x[0-9a-f]* \(\([0-9a-f]\{2,8\} \)\{1,4\}\).*/\1/p' | tr -d ' \n' > "$W/chunk.hex"
    if command -v objcopy >/dev/null 2>&1 &&
        objcopy -O binary --only-section=.text --only-section=.text.aotb "$first" "$W/first.bin" 2>/dev/null; then
        want=$(od -An -v -tx1 "$W/first.bin" | tr -d ' \n')
        got=$(head -c "${#want}" "$W/chunk.hex")
        if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "readelf -x -z shows the decompressed code"
        else not_ok "readelf -x -z shows the decompressed code" "want $want" "got  $got" "$(cat "$T_TMP/err")"; fi
    else
        [ -s "$W/chunk.hex" ] && ok "readelf -x -z decompresses" || not_ok "readelf -x -z decompresses"
    fi
    grep -qi 'warning\|error' "$T_TMP/err" && not_ok "readelf -z: no warnings" "$(cat "$T_TMP/err")" || ok "readelf -z: no warnings"
    readelf -s -W "$IMG" | grep -q 'FUNC    GLOBAL DEFAULT  UND aotb_rt_lookup' &&
        ok "readelf -s: runtime symbols undefined" || not_ok "readelf -s: runtime symbols undefined"
fi

# eu-elflint checks symbol bounds against the compressed size of a
# SHF_COMPRESSED section (it does not decompress): those messages are
# expected; anything else is ours to fix.
if command -v eu-elflint >/dev/null 2>&1; then
    eu-elflint --gnu-ld "$IMG" > "$W/lint" 2>&1
    grep -v -E "symbol [0-9]+ \(aotb_blk_[0-9a-f]{16}\)(: st_value out of bounds| does not fit completely in referenced section \[ *[0-9]+\] '\.text\.aotb\.[0-9]+')$" "$W/lint" > "$W/lint.other"
    [ -s "$W/lint.other" ] && not_ok "eu-elflint --gnu-ld: nothing but the compressed-section limits" "$(head -5 "$W/lint.other")" ||
        ok "eu-elflint --gnu-ld: nothing but the compressed-section limits"
fi

# dump
expect_rc "dump image" 0 "$AOTB" dump "$IMG"
case "$T_OUT" in *"format version: 3"*"blocks:"*"sections:"*".text.aotb.0"*) ok "dump shows header, sections, blocks" ;;
    *) not_ok "dump shows header, sections, blocks" "$T_OUT" ;; esac
h=$("$AOTB" hash "$P" | head -1 | awk '{print $NF}')
case "$T_OUT" in *"$h"*) ok "dump shows the IR hashes of aotb hash" ;; *) not_ok "dump shows the IR hashes of aotb hash" "$h" ;; esac
expect_rc "dump object" 0 "$AOTB" dump "$first"
for f in "kind: block" "pc: 0x" "ir hash: " "fingerprint: aotb" "relocations: "; do
    case "$T_OUT" in *"$f"*) ok "dump object shows $f" ;; *) not_ok "dump object shows $f" "$T_OUT" ;; esac
done
expect_rc "dump meta object" 0 "$AOTB" dump "$OBJ/meta.o"
case "$T_OUT" in *"kind: meta"*"memory: 0x"*) ok "dump meta fields" ;; *) not_ok "dump meta fields" "$T_OUT" ;; esac
if command -v objdump >/dev/null 2>&1; then
    expect_rc "dump --disasm" 0 "$AOTB" dump --disasm "$IMG"
    case "$T_OUT" in *"block 0x"*"sub "*) ok "dump --disasm disassembles" ;; *) not_ok "dump --disasm disassembles" "$(printf %s "$T_OUT" | tail -5)" ;; esac
fi

# ---- malformed images: exit 1 with a message, never a crash -----------
hdr_off=$(readelf -S -W "$IMG" 2>/dev/null | sed -n 's/.*\.aotb\.header *PROGBITS *[0-9a-f]* \([0-9a-f]*\) .*/\1/p')
if [ -n "$hdr_off" ]; then
    cp "$IMG" "$W/v2.aot"
    printf '\001' | dd of="$W/v2.aot" bs=1 seek=$((0x$hdr_off + 8)) conv=notrunc 2>/dev/null
    expect_err "wrong format version: verify" "v2.aot: image format version 1 is not supported by this aotb \(supports 3\); rebuild the image" "$AOTB" verify "$W/v2.aot"
    expect_err "wrong format version: run" "image format version 1 is not supported" "$AOTB" run "$W/v2.aot"
fi
cp "$IMG" "$W/m.aot"
printf '\003' | dd of="$W/m.aot" bs=1 seek=18 conv=notrunc 2>/dev/null
expect_err "wrong machine" "m.aot: wrong machine 3" "$AOTB" run "$W/m.aot"
size=$(wc -c < "$IMG")
for cut in 10 100 $((size / 2)) $((size - 1)); do
    head -c "$cut" "$IMG" > "$W/t.aot"
    expect_err "truncated at $cut: verify" "t.aot: " "$AOTB" verify "$W/t.aot"
    expect_err "truncated at $cut: run" "t.aot: " "$AOTB" run "$W/t.aot"
done
for at in 70 $((size / 3)) $((size / 2)) $((size - 70)); do
    cp "$IMG" "$W/f.aot"
    b=$(od -An -tu1 -j "$at" -N1 "$IMG" | tr -d ' ')
    printf "$(printf '\\%03o' $(( (b ^ 16) & 255 )))" | dd of="$W/f.aot" bs=1 seek="$at" conv=notrunc 2>/dev/null
    expect_err "bit flip at $at: verify" "f.aot: .*(checksum|damaged|range|bad|not)" "$AOTB" verify "$W/f.aot"
done
expect_err "not an image" "cannot open|No such" "$AOTB" run "$W/nonexistent.aot"
expect_rc "run without an image: usage" 2 "$AOTB" run

# ---- link errors: exit 1, files named, old image untouched -------------
cp "$IMG" "$W/keep.aot"
blocks=$(ls "$OBJ"/*.o | grep -v meta.o)
check_untouched () {
    cmp -s "$IMG" "$W/keep.aot" && ok "$1: old image byte-identical" || not_ok "$1: old image byte-identical"
    extra=$(ls -A "$W" | grep -v -E '\.(aot|obj|bin|hex|aot\.lock|aot\.linkstate)$|^(rsp|sections|lint|lint.other|v2.aot|m.aot|t.aot|f.aot)$')
    [ -z "$extra" ] && ok "$1: no temporary files left" || not_ok "$1: no temporary files left" "$extra"
}
# shellcheck disable=SC2086
expect_err "link without meta" "no meta object" "$AOTB" link -o "$IMG" $blocks
check_untouched "link without meta"

mkdir -p "$W/dup.obj"
cp "$first" "$W/dup.obj/copy.o"
expect_err "link with a duplicate pc" "copy.o: block 0x[0-9a-f]+ is also defined by .*$(basename "$first")|$(basename "$first"): block 0x[0-9a-f]+ is also defined by .*copy.o" \
    "$AOTB" link -o "$IMG" "$OBJ"/*.o "$W/dup.obj/copy.o"
check_untouched "link with a duplicate pc"

mkdir -p "$W/fp.obj"
cp "$first" "$W/fp.obj/other.o"
off=$(grep -boa 'aotb [0-9.]* codegen' "$W/fp.obj/other.o" | head -1 | cut -d: -f1)
if [ -n "$off" ]; then
    printf 'X' | dd of="$W/fp.obj/other.o" bs=1 seek="$off" conv=notrunc 2>/dev/null
    # A second defect in the same run: both are reported.
    expect_err "link with a different fingerprint" "other.o: compiled by a different aotb than .*; recompile" \
        "$AOTB" link -o "$IMG" "$OBJ"/*.o "$W/fp.obj/other.o"
    printf '%s\n' "$T_ERR" | grep -q "also defined by" && ok "link reports every error in one run" ||
        not_ok "link reports every error in one run" "$T_ERR"
    check_untouched "link with a different fingerprint"
else
    not_ok "find the fingerprint in an object"
fi
expect_err "link an unreadable object" "nothing.o" "$AOTB" link -o "$IMG" "$OBJ"/*.o "$W/nothing.o"
check_untouched "link an unreadable object"
expect_rc "link without -o: usage" 2 "$AOTB" link "$OBJ"/meta.o

t_done
