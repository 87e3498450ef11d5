#!/bin/sh
# test_install.sh: make install / uninstall with DESTDIR and PREFIX.
. "$(dirname "$0")/lib.sh"
d="$T_TMP/root"
if make -s -C "$TOP" install DESTDIR="$d" PREFIX=/opt/aotb >"$T_TMP/log" 2>&1; then ok "make install"; else not_ok "make install" "$(tail -5 "$T_TMP/log")"; fi
for f in bin/aotb lib/libaotb.a lib/pkgconfig/aotb.pc share/man/man1/aotb.1 \
         share/man/man5/aotb-ir.5 share/man/man5/aotb-image.5 include/aotb/aotb.h; do
    [ -f "$d/opt/aotb/$f" ] && ok "installs $f" || not_ok "installs $f"
done
"$d/opt/aotb/bin/aotb" --version >/dev/null 2>&1 && ok "installed binary runs" || not_ok "installed binary runs"
grep -q '^prefix=/opt/aotb$' "$d/opt/aotb/lib/pkgconfig/aotb.pc" && ok "aotb.pc records the prefix" || not_ok "aotb.pc records the prefix"
if make -s -C "$TOP" uninstall DESTDIR="$d" PREFIX=/opt/aotb >"$T_TMP/log" 2>&1; then ok "make uninstall"; else not_ok "make uninstall"; fi
left=$(find "$d" -type f | head -5)
[ -z "$left" ] && ok "uninstall removes every file" || not_ok "uninstall removes every file" "$left"
t_done
