#!/bin/sh
# test_compile.sh: "aotb compile" and the per-block ELF objects it writes.
# Real tools must accept the objects (readelf, eu-elflint, objdump), GNU ld
# must link them with a plain C driver into a program that prints what
# "aotb interp" prints, output must be byte-identical across runs and
# processes, and an unchanged object must keep its mtime.
. "$(dirname "$0")/lib.sh"

DATA="$HERE/data"
have () { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- usage
expect_rc "no arguments is a usage error" 2 "$AOTB" compile
expect_rc "-o and -d together is a usage error" 2 "$AOTB" compile "$TOP/examples/sum.vir" -o "$T_TMP/x.o" -d "$T_TMP/x"
expect_rc "no output option is a usage error" 2 "$AOTB" compile "$TOP/examples/sum.vir"
expect_rc "two inputs is a usage error" 2 "$AOTB" compile a.vir b.vir -o x.o
expect_rc "--runtime with an input is a usage error" 2 "$AOTB" compile --runtime "$TOP/examples/sum.vir" -o "$T_TMP/x.o"
expect_rc "--runtime without -o is a usage error" 2 "$AOTB" compile --runtime
expect_rc "-o without a value is a usage error" 2 "$AOTB" compile "$TOP/examples/sum.vir" -o
[ ! -e "$T_TMP/x.o" ] && [ ! -e "$T_TMP/x" ] && ok "usage errors write nothing" || not_ok "usage errors write nothing"

# ---------------------------------------------------------------- bad input
printf 'block 0x10 {\n    frob r1\n    ret\n}\n' > "$T_TMP/bad.vir"
expect_err "a malformed program is refused GCC-style" "bad\.vir:2:[0-9]+: error: " "$AOTB" compile "$T_TMP/bad.vir" -o "$T_TMP/bad.o"
[ ! -e "$T_TMP/bad.o" ] && ok "a malformed program writes no object" || not_ok "a malformed program writes no object"
expect_err "a missing file is refused" "nonexistent\.vir" "$AOTB" compile "$T_TMP/nonexistent.vir" -d "$T_TMP/none"
expect_err "-o needs exactly one block" "holds 3 blocks; -o needs exactly one" "$AOTB" compile "$TOP/examples/sum.vir" -o "$T_TMP/sum.o"
[ ! -e "$T_TMP/sum.o" ] && ok "refused -o writes no object" || not_ok "refused -o writes no object"

# ---------------------------------------------------------------- one block
cat > "$T_TMP/one.vir" <<'EOF'
; top-level statements are allowed and ignored by -o
entry 0x2000
memory 0x1000
data 0x10 "hi"
block 0x2000 {
    addi r1, r1, 1
    cmpltu r2, r1, r3
    condjmp r2, 0x2000, 0x3000
}
EOF
expect_rc "compile one block with -o" 0 "$AOTB" compile "$T_TMP/one.vir" -o "$T_TMP/one.o" --depfile "$T_TMP/one.d"
if have readelf; then
    syms=$(readelf -sW "$T_TMP/one.o")
    text_size=$(readelf -SW "$T_TMP/one.o" | awk '{ for (i = 1; i < NF; i++) if ($i == ".text") print $(i + 4) }')
    sym_size=$(printf '%s\n' "$syms" | awk '$8 == "aotb_blk_0000000000002000" { print $3 }')
    if [ -n "$text_size" ] && [ "$((0x$text_size))" = "$sym_size" ] &&
       printf '%s\n' "$syms" | grep -Eq 'FUNC +GLOBAL +DEFAULT +1 aotb_blk_0000000000002000$'; then
        ok "the block symbol is a global FUNC covering .text"
    else
        not_ok "the block symbol is a global FUNC covering .text" "$syms" ".text size: $text_size"
    fi
    printf '%s\n' "$syms" | grep -Eq 'NOTYPE +GLOBAL +DEFAULT +UND aotb_blk_0000000000003000$' &&
        ok "the branch target is an undefined global" || not_ok "the branch target is an undefined global" "$syms"
    hdr=$(readelf -hW "$T_TMP/one.o")
    printf '%s\n' "$hdr" | grep -q 'REL (Relocatable file)' && printf '%s\n' "$hdr" | grep -q 'X86-64' &&
        printf '%s\n' "$hdr" | grep -Eq 'Number of program headers: +0' &&
        ok "ELF header: ET_REL, x86-64, no program headers" || not_ok "ELF header: ET_REL, x86-64, no program headers" "$hdr"
fi
printf '%s: %s\n' "$T_TMP/one.o" "$T_TMP/one.vir" > "$T_TMP/one.d.want"
cmp -s "$T_TMP/one.d" "$T_TMP/one.d.want" && ok "depfile names the output and the input" ||
    not_ok "depfile names the output and the input" "$(cat "$T_TMP/one.d" 2>&1)"
mkdir -p "$T_TMP/a dir#1"
cp "$T_TMP/one.vir" "$T_TMP/a dir#1/my block.vir"
expect_rc "compile a file whose name has a space" 0 "$AOTB" compile "$T_TMP/a dir#1/my block.vir" -o "$T_TMP/a dir#1/o.o" --depfile "$T_TMP/sp.d"
printf '%s\n' "$T_TMP/a\\ dir\\#1/o.o: $T_TMP/a\\ dir\\#1/my\\ block.vir" > "$T_TMP/sp.d.want"
cmp -s "$T_TMP/sp.d" "$T_TMP/sp.d.want" && ok "depfile escapes spaces and #" ||
    not_ok "depfile escapes spaces and #" "got:  $(cat "$T_TMP/sp.d")" "want: $(cat "$T_TMP/sp.d.want")"
cmp -s "$T_TMP/one.o" "$T_TMP/a dir#1/o.o" && ok "same block, same object, whatever the file name" ||
    not_ok "same block, same object, whatever the file name"

# ---------------------------------------------------------------- real tools
progs=""
for f in "$TOP"/examples/*.vir "$TOP"/tests/programs/*.vir "$DATA"/*.vir; do
    [ -e "$f" ] && progs="$progs $f"
done
for f in $progs; do
    pname=$(basename "$(dirname "$f")")-$(basename "$f" .vir)
    pdir="$T_TMP/progs/$pname"
    expect_rc "compile -d $pname" 0 "$AOTB" compile "$f" -d "$pdir"
    nblocks=$(grep -c '^[[:space:]]*block[[:space:]]' "$f")
    nobj=$(ls "$pdir" | grep -c '^[0-9a-f]\{16\}\.o$')
    [ "$nblocks" = "$nobj" ] && [ -f "$pdir/meta.o" ] && ok "$pname: one object per block plus meta.o" ||
        not_ok "$pname: one object per block plus meta.o" "$nblocks blocks, $nobj objects"
    bad=""
    for o in "$pdir"/*.o; do
        ob=$(basename "$o")
        if have readelf; then
            readelf -a "$o" >/dev/null 2>"$T_TMP/re.err" || bad="$bad readelf-rc:$ob"
            grep -Eqi 'warning|error' "$T_TMP/re.err" && bad="$bad readelf:$ob:$(head -1 "$T_TMP/re.err")"
        fi
        if have eu-elflint; then
            eu-elflint --gnu-ld "$o" >"$T_TMP/lint.out" 2>&1 || bad="$bad elflint:$ob:$(head -1 "$T_TMP/lint.out")"
        fi
        if have objdump; then
            objdump -d -r "$o" >/dev/null 2>"$T_TMP/od.err" || bad="$bad objdump:$ob"
            [ -s "$T_TMP/od.err" ] && bad="$bad objdump-stderr:$ob"
        fi
    done
    [ -z "$bad" ] && ok "$pname: readelf, eu-elflint and objdump accept every object" ||
        not_ok "$pname: readelf, eu-elflint and objdump accept every object" "$bad"
done
SUM="$T_TMP/progs/examples-sum"

# The relocations of sum.vir's loop block, derived from its source: the
# exit to 0x1020 goes against its block symbol; the branch back to itself
# is a self loop that stays inside the block (registers stay cached), so it
# needs no relocation.
if have objdump; then
    od=$(objdump -d -r "$SUM/0000000000001010.o" 2>/dev/null | head -n 200)
    ! printf '%s\n' "$od" | grep -Eq 'R_X86_64_PLT32[[:space:]]+aotb_blk_0000000000001010-0x4' &&
    printf '%s\n' "$od" | grep -Eq 'R_X86_64_PLT32[[:space:]]+aotb_blk_0000000000001020-0x4' &&
        ok "objdump -d -r shows the branches against aotb_blk_ symbols" ||
        not_ok "objdump -d -r shows the branches against aotb_blk_ symbols" "$od"
    printf '%s\n' "$od" | grep -q '<aotb_blk_0000000000001010>:' &&
        ok "objdump shows the block function" || not_ok "objdump shows the block function"
fi
if have readelf; then
    m=$(readelf -SW "$SUM/meta.o")
    printf '%s\n' "$m" | grep -q '\.aotb\.meta' && printf '%s\n' "$m" | grep -q '\.aotb\.data' &&
        ok "meta.o holds .aotb.meta and .aotb.data" || not_ok "meta.o holds .aotb.meta and .aotb.data" "$m"
    # sum.vir: version 1, has_entry 1, entry 0x1000, memory 0x10000, 1 segment.
    x=$(readelf -x .aotb.meta "$SUM/meta.o" | awk '/^  0x/ { printf "%s%s%s%s", $2, $3, $4, $5 }')
    [ "$x" = "0100000001000000001000000000000000000100000000000100000000000000" ] &&
        ok ".aotb.meta holds version, entry, memory size and segment count" ||
        not_ok ".aotb.meta holds version, entry, memory size and segment count" "$x"
fi

# The note's pc and IR hash (descriptor at section offset 20: pc at +8, hash
# high and low halves at +16 and +24, little-endian) against "aotb hash".
if have readelf && have od; then
    o="$SUM/0000000000001010.o"
    off=$(readelf -SW "$o" | awk '{ for (i = 1; i < NF; i++) if ($i == ".aotb.note") print $(i + 3) }')
    got=$(od -An -tx1 -v -j $((0x$off + 28)) -N 24 "$o" | tr -s ' \n' ' ' |
          awk '{ r = "0x"; for (i = 8; i >= 1; i--) r = r $i; r = r " ";
                 for (i = 16; i >= 9; i--) r = r $i; for (i = 24; i >= 17; i--) r = r $i; print r }')
    want=$("$AOTB" hash "$TOP/examples/sum.vir" | grep '^0x0000000000001010 ')
    [ -n "$want" ] && [ "$got" = "$want" ] && ok "the object's note carries the block's pc and IR hash" ||
        not_ok "the object's note carries the block's pc and IR hash" "note: $got" "hash: $want"
fi

# ---------------------------------------------------------------- --meta
expect_rc "--meta writes only the meta object" 0 "$AOTB" compile "$TOP/examples/sum.vir" --meta "$T_TMP/m.o" --depfile "$T_TMP/m.d"
cmp -s "$T_TMP/m.o" "$SUM/meta.o" && ok "--meta equals -d's meta.o" || not_ok "--meta equals -d's meta.o"
grep -q "^$T_TMP/m.o: .*examples/sum.vir$" "$T_TMP/m.d" && ok "--meta depfile" || not_ok "--meta depfile" "$(cat "$T_TMP/m.d")"

expect_rc "-d with --depfile" 0 "$AOTB" compile "$TOP/examples/sum.vir" -d "$T_TMP/dd" --depfile "$T_TMP/dd.d"
printf '%s\n' "$T_TMP/dd/0000000000001000.o $T_TMP/dd/0000000000001010.o $T_TMP/dd/0000000000001020.o $T_TMP/dd/meta.o: $TOP/examples/sum.vir" > "$T_TMP/dd.want"
cmp -s "$T_TMP/dd.d" "$T_TMP/dd.want" && ok "-d depfile names every object and the input" ||
    not_ok "-d depfile names every object and the input" "got:  $(cat "$T_TMP/dd.d")" "want: $(cat "$T_TMP/dd.want")"

# ---------------------------------------------------------------- determinism
"$AOTB" compile "$TOP/examples/sum.vir" -d "$T_TMP/det1" && "$AOTB" compile "$TOP/examples/sum.vir" -d "$T_TMP/det2"
diff -r "$T_TMP/det1" "$T_TMP/det2" >/dev/null && [ -f "$T_TMP/det1/meta.o" ] &&
    ok "two processes write byte-identical objects" || not_ok "two processes write byte-identical objects"
cmp -s "$T_TMP/det1/0000000000001010.o" "$SUM/0000000000001010.o" &&
    ok "identical to the objects of the earlier run" || not_ok "identical to the objects of the earlier run"
"$AOTB" compile --runtime -o "$T_TMP/rt1.o" && "$AOTB" compile --runtime -o "$T_TMP/rt2.o"
cmp -s "$T_TMP/rt1.o" "$T_TMP/rt2.o" && ok "runtime object is deterministic" || not_ok "runtime object is deterministic"
if have eu-elflint; then
    eu-elflint --gnu-ld "$T_TMP/rt1.o" >"$T_TMP/lint.out" 2>&1 && ok "eu-elflint accepts the runtime object" ||
        not_ok "eu-elflint accepts the runtime object" "$(cat "$T_TMP/lint.out")"
fi

# ---------------------------------------------------------------- mtimes
# Old mtimes on every object; an unchanged recompile must keep them, and a
# changed block must rewrite only its own object.
cp "$TOP/examples/sum.vir" "$T_TMP/inc.vir"
"$AOTB" compile "$T_TMP/inc.vir" -d "$T_TMP/inc"
touch -d '2001-02-03 04:05:06' "$T_TMP/inc"/*.o
expect_rc "recompile an unchanged program" 0 "$AOTB" compile "$T_TMP/inc.vir" -d "$T_TMP/inc"
changed=$(find "$T_TMP/inc" -name '*.o' -newermt '2001-02-04' | wc -l)
[ "$changed" = 0 ] && ok "an unchanged recompile keeps every object's mtime" ||
    not_ok "an unchanged recompile keeps every object's mtime" "$changed objects rewritten"
sed 's/addi  r3, r3, -1/addi  r3, r3, -2/' "$T_TMP/inc.vir" > "$T_TMP/inc2.vir" && mv "$T_TMP/inc2.vir" "$T_TMP/inc.vir"
"$AOTB" compile "$T_TMP/inc.vir" -d "$T_TMP/inc"
changed=$(cd "$T_TMP/inc" && find . -name '*.o' -newermt '2001-02-04' | sort | tr '\n' ' ')
[ "$changed" = "./0000000000001010.o " ] && ok "editing one block rewrites only its object" ||
    not_ok "editing one block rewrites only its object" "rewritten: $changed"
printf 'block 0x1000 {\n    ret\n}\n' > "$T_TMP/inc.vir"
"$AOTB" compile "$T_TMP/inc.vir" -d "$T_TMP/inc"
[ -f "$T_TMP/inc/0000000000001020.o" ] && ok "objects of removed blocks are left in place (documented)" ||
    not_ok "objects of removed blocks are left in place (documented)"

# ---------------------------------------------------------------- GNU ld
# Block objects + the runtime object + a plain C driver, linked by GNU ld
# through cc; the program must print exactly what "aotb interp" prints.
CC=${CC:-cc}
if have "$CC" && have ld; then
    "$AOTB" compile --runtime -o "$T_TMP/rt.o"
    for prog in ld-loop:0x1000:0x10000 ld-memfault:0x0:0x100 ld-fault:0x100:0x100000; do
        lname=${prog%%:*}; rest=${prog#*:}; entry=${rest%%:*}; mem=${rest#*:}
        sym=$(printf 'aotb_blk_%016x' "$entry")
        rm -rf "$T_TMP/ld"
        "$AOTB" compile "$DATA/$lname.vir" -d "$T_TMP/ld/obj"
        if "$CC" -std=c11 -I"$TOP/src" -DENTRY_SYM="$sym" -DMEMSIZE="$mem" \
               "$HERE/ld-driver.c" "$T_TMP/ld/obj/"*.o "$T_TMP/rt.o" \
               -Wl,-z,noexecstack -o "$T_TMP/ld/prog" 2>"$T_TMP/ld.err"; then
            ok "$lname: GNU ld links the objects with a C driver"
        else
            not_ok "$lname: GNU ld links the objects with a C driver" "$(head -5 "$T_TMP/ld.err")"
            continue
        fi
        [ -s "$T_TMP/ld.err" ] && not_ok "$lname: the link is warning-free" "$(head -3 "$T_TMP/ld.err")" ||
            ok "$lname: the link is warning-free"
        "$AOTB" interp "$DATA/$lname.vir" > "$T_TMP/ld/want"; want_rc=$?
        expect_stdout "$lname: linked program prints what aotb interp prints" "$T_TMP/ld/want" "$want_rc" "$T_TMP/ld/prog"
        for mb in 1 2 5; do
            "$AOTB" interp --max-blocks "$mb" "$DATA/$lname.vir" > "$T_TMP/ld/want"; want_rc=$?
            expect_stdout "$lname: --max-blocks $mb matches aotb interp" "$T_TMP/ld/want" "$want_rc" "$T_TMP/ld/prog" "$mb"
        done
    done
else
    echo "# no C compiler or GNU ld: the link test is skipped"
fi

t_done
