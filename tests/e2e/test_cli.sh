#!/bin/sh
# test_cli.sh: the git-style CLI (help, version, usage errors) and the man
# pages (render cleanly, mention every command and option of the help).
. "$(dirname "$0")/lib.sh"

expect_rc "aotb --help exits 0" 0 "$AOTB" --help
case "$T_OUT" in *"usage: aotb"*) ok "--help prints usage" ;; *) not_ok "--help prints usage" "$T_OUT" ;; esac
expect_rc "aotb with no command exits 2" 2 "$AOTB"
expect_rc "aotb --version exits 0" 0 "$AOTB" --version
case "$T_OUT" in "aotb "[0-9]*) ok "--version prints the version" ;; *) not_ok "--version prints the version" "$T_OUT" ;; esac
expect_rc "unknown command exits 2" 2 "$AOTB" frobnicate
case "$T_ERR" in *"not an aotb command"*"usage:"*) ok "unknown command gets a short usage" ;; *) not_ok "unknown command gets a short usage" "$T_ERR" ;; esac
[ "$(printf '%s\n' "$T_ERR" | wc -l)" -le 3 ] && ok "the unknown command's usage is short" ||
    not_ok "the unknown command's usage is short" "$T_ERR"
expect_rc "help for an unknown command exits 2" 2 "$AOTB" help frobnicate
expect_rc "unknown option exits 2" 2 "$AOTB" --frobnicate
case "$T_ERR" in "aotb: unknown option '--frobnicate'"*"usage: aotb"*) ok "unknown option is named as an option, with a short usage" ;;
    *) not_ok "unknown option is named as an option, with a short usage" "$T_ERR" ;; esac
[ "$(printf '%s\n' "$T_ERR" | wc -l)" -le 3 ] && ok "the unknown option's usage is short" ||
    not_ok "the unknown option's usage is short" "$T_ERR"

cmds=$("$AOTB" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
[ -n "$cmds" ] && ok "help lists commands" || not_ok "help lists commands"
man_text=$(groff -man -Tascii -P-c -P-b -P-u "$TOP/man/aotb.1" 2>/dev/null)
for c in $cmds; do
    expect_rc "aotb help $c" 0 "$AOTB" help "$c"
    case "$T_OUT" in "usage: aotb $c"*) ok "help $c shows its usage" ;; *) not_ok "help $c shows its usage" "$T_OUT" ;; esac
    help_text=$T_OUT
    expect_rc "aotb $c --help" 0 "$AOTB" "$c" --help
    [ "$T_OUT" = "$help_text" ] && ok "$c --help equals help $c" || not_ok "$c --help equals help $c"
    expect_rc "aotb $c --no-such-option exits 2" 2 "$AOTB" "$c" --no-such-option x
    printf '%s\n' "$man_text" | grep -q "aotb $c" && ok "man page documents $c" || not_ok "man page documents $c"
    for opt in $(printf '%s\n' "$help_text" | grep -o -- '--[a-z][a-z-]*\|^  -[a-z]' | sed 's/^ *//' | sort -u); do
        [ "$opt" = --help ] && continue
        printf '%s\n' "$man_text" | grep -q -- "$opt" && ok "man page documents $c $opt" || not_ok "man page documents $c $opt"
    done
done

for m in "$TOP"/man/*.[15]; do
    w=$(groff -man -ww -z "$m" 2>&1)
    [ -z "$w" ] && ok "$(basename "$m") renders without warnings" || not_ok "$(basename "$m") renders without warnings" "$w"
done
t_done
