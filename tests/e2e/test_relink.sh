#!/bin/sh
# test_relink.sh: the link-state sidecar IMAGE.linkstate of aotb link.  A
# relink takes objects whose file status is unchanged from the old image
# without reading them, and reads every other one; the image is the same
# as when every object is read.  Changes by touch, by an in-place rewrite
# with the old mtime put back, and by a rename over the object are all
# noticed; a damaged, old-version, foreign or missing sidecar falls back
# to reading everything.  The expected values come from the reference
# interpreter and from links that read every object.
. "$(dirname "$0")/lib.sh"

W=$T_TMP/w
mkdir -p "$W"
cd "$W" || exit 99
N=2500                                 # several chunks
sh "$TOP/tests/e2e/genprog.sh" $N > p.vir
"$AOTB" compile p.vir -d obj >/dev/null || not_ok "compile"
ls obj/*.o > objs.rsp
NOBJ=$(wc -l < objs.rsp)
# Objects written within the last moments are not recorded (they could
# change again within one timestamp tick): let them age.
sleep 0.3

# link_stats IMAGE: links with AOTB_LINK_STATS and sets READ / UNREAD.
link_stats () {
    AOTB_LINK_STATS=1 "$AOTB" link -o "$1" @objs.rsp 2>"$T_TMP/stats"
    lrc=$?
    READ=$(sed -n 's/.*objects: \([0-9]*\) read, \([0-9]*\) unchanged.*/\1/p' "$T_TMP/stats")
    UNREAD=$(sed -n 's/.*objects: \([0-9]*\) read, \([0-9]*\) unchanged.*/\2/p' "$T_TMP/stats")
    return $lrc
}
# settle: let fresh objects age, then relink so that the sidecar records
# every object (a link does not record objects changed moments before it).
settle () { sleep 0.3; "$AOTB" link -o a.aot @objs.rsp; }
# full IMAGE: a link from scratch (no old image, no sidecar).
full () { rm -f "$1" "$1.linkstate"; "$AOTB" link -o "$1" @objs.rsp; }
# runs_as NAME PROG IMAGE: aotb run on IMAGE == aotb interp on PROG.
runs_as () {
    "$AOTB" interp --dump-mem 0:20000 "$2" > "$T_TMP/want" 2>&1
    expect_stdout "$1" "$T_TMP/want" 0 "$AOTB" run --dump-mem 0:20000 "$3"
}
# same NAME A B: byte-identical files.
same () { if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1" "$2 and $3 differ"; fi; }
# pc_of I: the pc of block I (0-based) of genprog's chain; obj_of I its object.
pc_of () { printf '%x' $((4096 + 16 * $1)); }
obj_of () { printf 'obj/%016x.o' $((4096 + 16 * $1)); }
# edit I IMM: p.vir with block I adding IMM (instead of I + 1) to r1.
edit () {
    awk -v pc="0x$(pc_of "$1")" -v imm="$2" '
        $1 == "block" { inb = ($2 == pc) }
        inb && $1 == "addi" { $0 = "    addi r1, r1, " imm }
        { print }' p.vir
}

# sig FILE: a sidecar's signature (its first 16 bytes); nrec FILE: its
# record count (bytes 32..39, little-endian).
sig () { head -c 16 "$1"; }
nrec () { od -An -t u8 -j 32 -N 8 "$1" | tr -d ' '; }
LSEDIT=${BUILD:-$TOP/build}/tools/lsedit

# ---- the first link writes the sidecar ------------------------------------
expect_rc "full link" 0 link_stats a.aot
if [ -f a.aot.linkstate ] && [ "$(sig a.aot.linkstate)" = "aotb-linkstate 2" ]; then
    ok "sidecar written with its signature"
else
    not_ok "sidecar written with its signature" "$(head -c 16 a.aot.linkstate 2>&1)"
fi
# One record per object (the meta object's says "read always").
n=$(nrec a.aot.linkstate)
if [ "$n" = "$NOBJ" ]; then ok "one record per object"; else
    not_ok "one record per object" "$n records for $NOBJ objects"; fi
[ "$READ" = "$NOBJ" ] && ok "full link reads every object" ||
    not_ok "full link reads every object" "$(cat "$T_TMP/stats")"
runs_as "full link runs as interp" p.vir a.aot

# ---- nothing changed: only the meta object is read -----------------------
cp a.aot ref.aot
expect_rc "relink, nothing changed" 0 link_stats a.aot
[ "$READ" = 1 ] && [ "$UNREAD" = $((NOBJ - 1)) ] && ok "unchanged objects not read" ||
    not_ok "unchanged objects not read" "$(cat "$T_TMP/stats")"
same "unchanged relink == full link" a.aot ref.aot

# ---- one block changed (a new object via compile -d) ---------------------
edit 150 1000 > p2.vir
"$AOTB" compile p2.vir -d obj >/dev/null || not_ok "compile p2"
cp a.aot old.aot
expect_rc "relink after one change" 0 link_stats a.aot
[ "$READ" = 2 ] && ok "exactly the changed object (and meta) read" ||
    not_ok "exactly the changed object (and meta) read" "$(cat "$T_TMP/stats")"
# Several chunks, all but the changed block's copied compressed.
chunks=$(sed -n 's/.*; \([0-9]*\) chunks, \([0-9]*\) reused$/\1 \2/p' "$T_TMP/stats")
set -- $chunks
[ "${1:-0}" -ge 3 ] && [ "${2:-0}" = $(($1 - 1)) ] && ok "unchanged chunks reused" ||
    not_ok "unchanged chunks reused" "$(cat "$T_TMP/stats")"
runs_as "relink picks up the change" p2.vir a.aot
# The same link from the same old image without the sidecar: every object read.
cp old.aot b.aot
rm -f b.aot.linkstate
"$AOTB" link -o b.aot @objs.rsp
same "relink == relink reading every object" a.aot b.aot
full c.aot
same "relink == full link (same code size)" a.aot c.aot
settle
full c.aot
same "sidecar == the full link's" a.aot.linkstate c.aot.linkstate
# A change of code size moves the chunk layout: still the image a link
# reading every object gives.
edit 20 123456789 > p3.vir
"$AOTB" compile p3.vir -d obj >/dev/null
cp a.aot old.aot
sleep 0.1
expect_rc "relink after a change of size" 0 link_stats a.aot
runs_as "relink after a change of size runs as interp" p3.vir a.aot
cp old.aot b.aot
rm -f b.aot.linkstate
"$AOTB" link -o b.aot @objs.rsp
same "size change: relink == relink reading every object" a.aot b.aot

# ---- sneaky changes ------------------------------------------------------
# tryswap HOW NAME PROG: puts block 42's object compiled from PROG in place
# (HOW: inplace = rewritten through the same inode, rename = a new file
# moved over it), puts the old mtime back, relinks, checks the result.
cp p3.vir cur.vir
tryswap () {
    o=$(obj_of 42)
    settle
    rm -rf nobj
    "$AOTB" compile "$3" -d nobj >/dev/null
    n=nobj/${o#obj/}
    if [ "$(wc -c < "$n")" != "$(wc -c < "$o")" ] || cmp -s "$n" "$o"; then
        not_ok "$2: setup" "the new object should differ with the same size"
        return
    fi
    touch -r "$o" stamp
    if [ "$1" = inplace ]; then
        ino=$(stat -c %i "$o")
        cat "$n" > "$o"
        [ "$(stat -c %i "$o")" = "$ino" ] || not_ok "$2: same inode"
    else
        cp "$n" "$o.new"
        mv "$o.new" "$o"
    fi
    touch -r stamp "$o"              # mtime (and size) as before
    expect_rc "$2: relink" 0 link_stats a.aot
    [ "$READ" = 2 ] && ok "$2: noticed" || not_ok "$2: noticed" "$(cat "$T_TMP/stats")"
    runs_as "$2: image has the new code" "$3" a.aot
    cp "$3" cur.vir
}
# -44 and -45: encoded in as many bytes as block 42's own 43, so the
# objects keep their size.
edit 42 -44 < /dev/null | awk -v pc="0x$(pc_of 20)" '
    $1 == "block" { inb = ($2 == pc) }
    inb && $1 == "addi" { $0 = "    addi r1, r1, 123456789" }
    { print }' > p4.vir
tryswap inplace "in-place rewrite, old mtime put back (ctime)" p4.vir
sed 's/addi r1, r1, -44$/addi r1, r1, -45/' p4.vir > p5.vir
tryswap rename "replaced by rename, old mtime put back (inode)" p5.vir
settle
touch "$(obj_of 7)"
expect_rc "relink after touch" 0 link_stats a.aot
[ "$READ" = 2 ] && ok "touched object read again" || not_ok "touched object read again" "$(cat "$T_TMP/stats")"

# ---- bad sidecars fall back to reading everything -------------------------
settle
cp a.aot good.aot
cp a.aot.linkstate good.linkstate
# damage NAME: a.aot back to good, a.aot.linkstate from stdin; relink.
damage () {
    cp good.aot a.aot
    cat > a.aot.linkstate
    expect_rc "$1: relink" 0 link_stats a.aot
    [ "$READ" = "$NOBJ" ] && ok "$1: every object read" ||
        not_ok "$1: every object read" "$(cat "$T_TMP/stats")"
    same "$1: same image" a.aot good.aot
    if [ "$(sig a.aot.linkstate)" = "aotb-linkstate 2" ] && cmp -s a.aot.linkstate good.linkstate; then
        ok "$1: sidecar rewritten"; else not_ok "$1: sidecar rewritten"; fi
}
# poke OFFSET BYTES: good.linkstate with BYTES (printf format) written at
# OFFSET, to stdout.
poke () {
    cp good.linkstate poked
    printf "$2" | dd of=poked bs=1 seek="$1" conv=notrunc 2>/dev/null
    cat poked
}
size=$(wc -c < good.linkstate)
head -c 3000 /dev/urandom | damage "garbage sidecar"
: | damage "empty sidecar"
printf 'aotb-linkstate 1\nroot %s\n' "$(od -An -tx1 -j 16 -N 16 good.linkstate | tr -d ' \n')" |
    damage "version 1 (text) sidecar"
poke 15 '3' | damage "newer-version sidecar"
poke 15 '1' | damage "older-version signature on version 2 records"
head -c $((size - 7)) good.linkstate | damage "truncated sidecar"
head -c 100 good.linkstate | damage "sidecar truncated in the records"
poke 20 '\377' | damage "bad root"
poke $((48 + 56 * 5 + 16)) '\001' | damage "a record's mtime damaged"
poke $((48 + 56 * 5)) '\200' | damage "a record's pc damaged"
poke $((size - 1)) 'x' | damage "checksum damaged"
{ cat good.linkstate; printf 'x'; } | damage "a byte appended"
# The image replaced (by hand, aotb build or aotb compact) under a sidecar
# whose objects are all unchanged: the root checksum no longer matches, so
# nothing is taken from the new image on the sidecar's word.
edit 3 5 > q.vir
rm -rf qobj
"$AOTB" compile q.vir -d qobj >/dev/null
"$AOTB" link -o q.aot qobj/*.o
cp q.aot a.aot
cp good.linkstate a.aot.linkstate
expect_rc "sidecar of another image: relink" 0 link_stats a.aot
[ "$READ" = "$NOBJ" ] && ok "sidecar of another image: every object read" ||
    not_ok "sidecar of another image: every object read" "$(cat "$T_TMP/stats")"
cp q.aot b.aot
rm -f b.aot.linkstate
"$AOTB" link -o b.aot @objs.rsp
same "sidecar of another image: same image as reading every object" a.aot b.aot
# A well-formed sidecar whose record points at a block the image lacks:
# that object read.
cp good.aot a.aot
cp good.linkstate a.aot.linkstate
"$LSEDIT" a.aot.linkstate 0 ffffff0 || not_ok "lsedit"
expect_rc "sidecar names a block the image lacks" 0 link_stats a.aot
[ "$READ" = 2 ] && ok "that object is read" || not_ok "that object is read" "$(cat "$T_TMP/stats")"
same "sidecar names a block the image lacks: same image" a.aot good.aot
# ---- deleting the sidecar gives the same image ---------------------------
cp good.aot a.aot
rm -f a.aot.linkstate
expect_rc "relink without sidecar" 0 link_stats a.aot
[ "$READ" = "$NOBJ" ] && ok "without sidecar every object read" || not_ok "without sidecar every object read"
same "without sidecar: same image" a.aot good.aot
full c.aot
runs_as "final image runs as interp" cur.vir a.aot

# ---- a failed link leaves image and sidecar alone ------------------------
cp a.aot.linkstate keep.linkstate
cp a.aot keep.aot
printf 'garbage' > bad.o
expect_rc "failed link" 1 "$AOTB" link -o a.aot @objs.rsp bad.o
same "failed link: image kept" a.aot keep.aot
same "failed link: sidecar kept" a.aot.linkstate keep.linkstate

# ---- a killed writer's temporary sidecar is removed by the next link ------
touch a.aot.linkstate.tmp.AbC123
"$AOTB" link -o a.aot @objs.rsp
[ ! -e a.aot.linkstate.tmp.AbC123 ] && ok "stale sidecar temporary removed" ||
    not_ok "stale sidecar temporary removed"

# ---- Ninja: the sidecar is an output of the link edge ---------------------
if command -v ninja >/dev/null 2>&1; then
    mkdir -p nj && cp p.vir nj/prog.vir
    (cd nj && "$AOTB" gen prog.vir -o aot >/dev/null && ninja -C aot aot-image >/dev/null) ||
        not_ok "ninja build"
    img=$(ls nj/aot/*.aot 2>/dev/null | head -1)
    if [ -n "$img" ] && [ -f "$img.linkstate" ]; then ok "ninja: sidecar written"; else
        not_ok "ninja: sidecar written" "$(ls nj/aot)"; fi
    out=$(ninja -C nj/aot aot-image 2>&1)
    case $out in *"no work to do"*) ok "ninja: no-op build stays a no-op" ;;
        *) not_ok "ninja: no-op build stays a no-op" "$out" ;; esac
    ninja -C nj/aot -t clean >/dev/null 2>&1
    if [ -n "$img" ] && [ ! -e "$img.linkstate" ]; then ok "ninja -t clean removes the sidecar"; else
        not_ok "ninja -t clean removes the sidecar"; fi
fi
t_done
