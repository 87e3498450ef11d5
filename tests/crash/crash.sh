#!/bin/sh
# crash.sh: kills image writers with SIGKILL at random points during an
# update and checks that the image on disk is always exactly the old or the
# new one (byte-compared with reference copies), that `aotb verify` accepts
# it and that `aotb run` prints one of the two expected outputs.
#   KILLS   kills per writer [100]      BLOCKS  program size [2000]
#   CHANGE  every CHANGE-th block differs between old and new [50]
# Writers: aotb link, ninja aot-image (the whole process group: ninja and
# the aotb processes it started) and aotb build.  Run by `make check-crash`;
# tests/e2e/test_crash.sh runs a short version.
. "$(dirname "$0")/../e2e/lib.sh"
KILLS=${KILLS:-100}
BLOCKS=${BLOCKS:-2000}
CHANGE=${CHANGE:-50}
W="$T_TMP/w"; mkdir -p "$W"
TOTAL_KILLS=0 TOTAL_HITS=0 TOTAL_BAD=0 TOTAL_TMP=0

# Old and new programs: every CHANGE-th block adds a different immediate.
sh "$TOP/tests/e2e/genprog.sh" "$BLOCKS" > "$W/old.vir"
awk -v c="$CHANGE" '/^block /{n++} /addi r1, r1, /&&(n%c)==1{sub(/, [0-9]+$/, ", 9" n)} {print}' \
    "$W/old.vir" > "$W/new.vir"
cmp -s "$W/old.vir" "$W/new.vir" && { not_ok "old and new programs differ"; t_done; }

# Reference images and outputs, built without interruption.
for v in old new; do
    "$AOTB" compile "$W/$v.vir" -d "$W/obj_$v" >/dev/null 2>&1 &&
        ls "$W/obj_$v"/*.o > "$W/$v.rsp" &&
        "$AOTB" link -o "$W/$v.aot" "@$W/$v.rsp" 2>"$W/err" ||
        { not_ok "reference $v image" "$(cat "$W/err")"; t_done; }
    "$AOTB" run "$W/$v.aot" --dump-mem 0:32 > "$W/$v.out"; echo "exit $?" >> "$W/$v.out"
done
cmp -s "$W/old.out" "$W/new.out" && { not_ok "old and new images print different outputs"; t_done; }
ok "reference images: $BLOCKS blocks, old and new differ"

rand () { od -An -N4 -tu4 /dev/urandom | tr -d ' '; }

# check_image WRITER IMAGE I: the image after kill I is whole and usable.
# Sets STATE to old or new.
check_image () {
    STATE=
    if cmp -s "$2" "$W/old.aot"; then STATE=old
    elif cmp -s "$2" "$W/new.aot"; then STATE=new
    fi
    "$AOTB" verify "$2" >/dev/null 2>"$W/verr"; vrc=$?
    "$AOTB" run "$2" --dump-mem 0:32 > "$W/got" 2>&1; echo "exit $?" >> "$W/got"
    if [ -n "$STATE" ] && [ "$vrc" = 0 ] && cmp -s "$W/got" "$W/$STATE.out"; then
        return 0
    fi
    TOTAL_BAD=$((TOTAL_BAD + 1))
    cp "$2" "$T_TMP/../aotb-crash-bad-$1-$3.aot" 2>/dev/null
    not_ok "$1 kill $3 leaves the old or the new image" "matches: ${STATE:-neither}, verify exit $vrc: $(head -2 "$W/verr")" \
        "$(diff "$W/old.out" "$W/got" | head -4)"
    STATE=old
    return 1
}

# count_tmp DIR: temporary files left by killed writers (then removed).
count_tmp () {
    n=$(find "$1" -maxdepth 1 -name '*.tmp.*' | wc -l)
    TOTAL_TMP=$((TOTAL_TMP + n))
    find "$1" -maxdepth 1 -name '*.tmp.*' -exec rm -f {} +
}

# killer NAME DURATION_US CMD...: runs CMD in its own process group and
# sends SIGKILL to the group after a random delay in [0, DURATION_US]
# (build/tools/killafter).  KILLED=1 if the kill arrived mid-run.
KILLAFTER="${BUILD:-$TOP/build}/tools/killafter"
[ -x "$KILLAFTER" ] || { not_ok "build/tools/killafter is built"; t_done; }
killer () {
    kname=$1 dur=$2; shift 2
    delay=$(( $(rand) % (dur + 1) ))
    res=$("$KILLAFTER" "$delay" "$@")
    KILLED=0; [ "$res" = killed ] && KILLED=1
    [ -n "$CRASH_DEBUG" ] && echo "# $kname delay $delay us of $dur: $res" >&2
    TOTAL_KILLS=$((TOTAL_KILLS + 1)); TOTAL_HITS=$((TOTAL_HITS + KILLED))
}

# wait_orphans DIR: Ninja starts each command in a process group of its
# own, so killing Ninja's group leaves a running `aotb link` behind, which
# still finishes its update (atomically).  Wait for every aotb process
# working in DIR before looking at the image, as a user's next build would.
wait_orphans () {
    n=0
    while [ $n -lt 500 ]; do
        busy=0
        for p in /proc/[0-9]*; do
            [ "$(cat "$p/comm" 2>/dev/null)" = aotb ] &&
                [ "$(readlink "$p/cwd" 2>/dev/null)" = "$1" ] && busy=1
        done
        [ $busy = 0 ] && return 0
        sleep 0.02; n=$((n + 1))
    done
    not_ok "aotb processes left by a killed ninja in $1 finish"
}

# time_us CMD...: the command's duration in microseconds.
time_us () { "$KILLAFTER" -t "$@"; }

other () { [ "$1" = old ] && echo new || echo old; }

# --- aotb link ---------------------------------------------------------
L="$W/link"; mkdir -p "$L"
cp "$W/old.aot" "$L/prog.aot"; STATE=old
dur=$(time_us "$AOTB" link -o "$L/probe.aot" "@$W/new.rsp")
bad0=$TOTAL_BAD hits0=$TOTAL_HITS
i=0
while [ $i -lt "$KILLS" ]; do
    i=$((i + 1)); to=$(other "$STATE")
    killer link "$dur" "$AOTB" link -o "$L/prog.aot" "@$W/$to.rsp"
    check_image link "$L/prog.aot" $i
    count_tmp "$L"
done
[ "$TOTAL_BAD" = "$bad0" ] && ok "aotb link: $KILLS kills ($((TOTAL_HITS - hits0)) mid-run, link takes ~$((dur / 1000)) ms), image always old or new" ||
    not_ok "aotb link: $((TOTAL_BAD - bad0)) of $KILLS kills left a bad image"

# --- ninja aot-image ---------------------------------------------------
if command -v ninja >/dev/null; then
    N="$W/ninja"; mkdir -p "$N"
    cp "$W/old.vir" "$N/prog.vir"
    (cd "$N" && "$AOTB" gen prog.vir -o aot >/dev/null 2>&1 && ninja -C aot aot-image >/dev/null 2>&1)
    if cmp -s "$N/aot/prog.aot" "$W/old.aot"; then
        ok "ninja builds the same bytes as aotb link"
        cp "$W/new.vir" "$N/prog.vir"
        dur=$(time_us ninja -C "$N/aot" aot-image)
        cmp -s "$N/aot/prog.aot" "$W/new.aot" || not_ok "ninja update gives the new image"
        STATE=new bad0=$TOTAL_BAD hits0=$TOTAL_HITS
        i=0
        while [ $i -lt "$KILLS" ]; do
            i=$((i + 1)); to=$(other "$STATE")
            cp "$W/$to.vir" "$N/prog.vir"
            killer ninja "$dur" ninja -C "$N/aot" aot-image
            wait_orphans "$N/aot"
            check_image ninja "$N/aot/prog.aot" $i
            count_tmp "$N/aot"
            # the program on disk says "to"; the next update goes the other way
            # only once a build has finished: finish this one half the time
            if [ $((i % 2)) = 0 ]; then
                ninja -C "$N/aot" aot-image >/dev/null 2>&1
                check_image ninja-rebuild "$N/aot/prog.aot" $i && [ "$STATE" != "$to" ] &&
                    not_ok "ninja after kill $i finishes the update" "image is $STATE, program is $to"
            fi
        done
        [ "$TOTAL_BAD" = "$bad0" ] && ok "ninja aot-image: $KILLS kills ($((TOTAL_HITS - hits0)) mid-run, build takes ~$((dur / 1000)) ms), image always old or new" ||
            not_ok "ninja aot-image: $((TOTAL_BAD - bad0)) kills left a bad image"
    else
        not_ok "ninja builds the same bytes as aotb link"
    fi
else
    not_ok "ninja is installed"
fi

# --- aotb build --------------------------------------------------------
if "$AOTB" build --help >/dev/null 2>&1; then
    B="$W/build"; mkdir -p "$B"
    cp "$W/old.vir" "$B/prog.vir"
    "$AOTB" build "$B/prog.vir" -o "$B/prog.aot" >/dev/null 2>&1
    if cmp -s "$B/prog.aot" "$W/old.aot"; then
        ok "aotb build writes the same bytes as aotb link"
        cp "$W/new.vir" "$B/prog.vir"
        dur=$(time_us "$AOTB" build "$B/prog.vir" -o "$B/prog.aot")
        cmp -s "$B/prog.aot" "$W/new.aot" || not_ok "aotb build update gives the new image"
        STATE=new bad0=$TOTAL_BAD hits0=$TOTAL_HITS
        i=0
        while [ $i -lt "$KILLS" ]; do
            i=$((i + 1)); to=$(other "$STATE")
            cp "$W/$to.vir" "$B/prog.vir"
            killer build "$dur" "$AOTB" build "$B/prog.vir" -o "$B/prog.aot"
            check_image build "$B/prog.aot" $i
            count_tmp "$B"
        done
        "$AOTB" build "$B/prog.vir" -o "$B/prog.aot" >/dev/null 2>&1
        check_image build-final "$B/prog.aot" end && [ "$STATE" = "$to" ] ||
            not_ok "aotb build after the kills finishes the update"
        [ "$TOTAL_BAD" = "$bad0" ] && ok "aotb build: $KILLS kills ($((TOTAL_HITS - hits0)) mid-run, build takes ~$((dur / 1000)) ms), image always old or new" ||
            not_ok "aotb build: $((TOTAL_BAD - bad0)) kills left a bad image"
    else
        not_ok "aotb build writes the same bytes as aotb link" "$(cmp "$B/prog.aot" "$W/old.aot" 2>&1)"
    fi
fi

echo "# kills tried: $TOTAL_KILLS (mid-run: $TOTAL_HITS), images corrupted: $TOTAL_BAD, temporary files left by killed writers: $TOTAL_TMP"
t_done
