#!/bin/sh
# test_embed.sh: examples/embed.c compiled against a "make install
# DESTDIR=..." tree through pkg-config --static, then run: it builds an
# image from an in-memory program, rebuilds it (nothing compiled), changes
# one block (one compiled) and runs it.  Sums by hand: 1+..+10 = 55, x3 = 165.
. "$(dirname "$0")/lib.sh"
d="$T_TMP/root"
command -v pkg-config >/dev/null || { not_ok "pkg-config is installed"; t_done; }
if make -s -C "$TOP" install DESTDIR="$d" PREFIX=/usr/local >"$T_TMP/log" 2>&1; then ok "make install"; else not_ok "make install" "$(tail -5 "$T_TMP/log")"; t_done; fi
[ -f "$d/usr/local/include/aotb/builder.h" ] && ok "installs aotb/builder.h" || not_ok "installs aotb/builder.h"
flags=$(PKG_CONFIG_PATH="$d/usr/local/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$d" pkg-config --cflags --libs --static aotb) ||
    not_ok "pkg-config aotb"
san=""
[ "${SANITIZERS:-}" = yes ] && san="-fsanitize=address,undefined"
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror $san "$TOP/examples/embed.c" $flags -o "$T_TMP/embed" 2>"$T_TMP/cc.log"; then
    ok "embed.c builds against the installed library"
else
    not_ok "embed.c builds against the installed library" "$(head -5 "$T_TMP/cc.log")"; t_done
fi
"$T_TMP/embed" "$T_TMP/e.aot" >"$T_TMP/out" 2>&1
cat > "$T_TMP/want" <<'W'
step 1: added 3, modified 0, unchanged 0, compiled 3
ret r2=55
step 1: added 0, modified 0, unchanged 3, compiled 0
step 3: added 0, modified 1, unchanged 2, compiled 1
ret r2=165
W
cmp -s "$T_TMP/out" "$T_TMP/want" && ok "embed builds incrementally and runs" || not_ok "embed builds incrementally and runs" "$(cat "$T_TMP/out")"
expect_rc "the image verifies" 0 "$d/usr/local/bin/aotb" verify "$T_TMP/e.aot"
t_done
