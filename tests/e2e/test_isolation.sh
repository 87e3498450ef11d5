#!/bin/sh
# test_isolation.sh: adversarial guest programs (tests/isolation/*.vir).
# Each file states, by hand, the status the output contract defines for it
# ("; expect: status: ..."), optional lines that must appear in the output
# ("; line: ...") and run options ("; args: ...").  The interpreter must
# print that status; the compiled image must print exactly what the
# interpreter prints, with the same exit status, and the host process must
# survive (exit 0 or 3, never a signal).
. "$(dirname "$0")/lib.sh"
n=0
for f in "$TOP"/tests/isolation/*.vir; do
    name=$(basename "$f" .vir)
    n=$((n + 1))
    want=$(sed -n 's/^; expect: //p' "$f")
    args=$(sed -n 's/^; args: //p' "$f")
    # interpreter: the oracle, itself checked against the hand-written status
    # shellcheck disable=SC2086
    "$AOTB" interp "$f" $args >"$T_TMP/i.out" 2>"$T_TMP/i.err"; irc=$?
    bad=
    case $irc in 0|3) ;; *) bad="interp exit $irc: $(head -3 "$T_TMP/i.err")" ;; esac
    grep -qxF -- "$want" "$T_TMP/i.out" || bad="$bad interp printed $(head -1 "$T_TMP/i.out"), wanted $want"
    sed -n 's/^; line: //p' "$f" > "$T_TMP/lines"
    while IFS= read -r l; do
        grep -qxF -- "$l" "$T_TMP/i.out" || bad="$bad interp lacks '$l'"
    done < "$T_TMP/lines"
    [ -z "$bad" ] && ok "$name: interp gives '$want'" || not_ok "$name: interp gives '$want'" "$bad"

    # native: compile, link, run
    rm -rf "$T_TMP/o"
    if "$AOTB" compile "$f" -d "$T_TMP/o" 2>"$T_TMP/c.err" &&
        "$AOTB" link -o "$T_TMP/p.aot" "$T_TMP"/o/*.o 2>>"$T_TMP/c.err"; then
        # shellcheck disable=SC2086
        "$AOTB" run "$T_TMP/p.aot" $args >"$T_TMP/r.out" 2>"$T_TMP/r.err"; rrc=$?
        if [ "$rrc" -gt 128 ]; then
            not_ok "$name: run survives" "killed by signal $((rrc - 128))"
        elif [ "$rrc" = "$irc" ] && cmp -s "$T_TMP/i.out" "$T_TMP/r.out"; then
            ok "$name: run prints what interp prints (exit $rrc)"
        else
            not_ok "$name: run prints what interp prints" "run exit $rrc, interp exit $irc" \
                "$(diff "$T_TMP/i.out" "$T_TMP/r.out" | head -8)" "$(head -3 "$T_TMP/r.err")"
        fi
    else
        not_ok "$name: compiles and links" "$(head -5 "$T_TMP/c.err")"
    fi
done
[ "$n" -ge 30 ] && ok "$n adversarial programs (at least 30)" || not_ok "at least 30 adversarial programs" "found $n"
t_done
