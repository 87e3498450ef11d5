#!/bin/sh
# test_configure.sh: configure in a scratch copy of the tree (configure and
# Makefile.in only): the "checking for X... yes" lines, options, CC /
# CFLAGS / LDFLAGS from the environment and from arguments, and the
# recorded command line that make reruns when Makefile.in changes.
. "$(dirname "$0")/lib.sh"
W="$T_TMP/src"
mkdir -p "$W"
cp "$TOP/configure" "$TOP/Makefile.in" "$W/"
cfg () { (cd "$W" && "$@") >"$T_TMP/cfg.out" 2>"$T_TMP/cfg.err"; }
mk () { sed -n "s/^$1 = //p" "$W/Makefile"; }

if cfg env CC=cc CFLAGS='-O1 -g' LDFLAGS=-Wl,-O1 sh ./configure --prefix=/opt/t; then
    ok "configure with CC, CFLAGS and LDFLAGS from the environment"
else not_ok "configure with CC, CFLAGS and LDFLAGS from the environment" "$(tail -3 "$T_TMP/cfg.err")"; fi
for d in libelf libzstd libxxhash cunit ninja pkg-config; do
    grep -qx "checking for $d\.\.\. yes" "$T_TMP/cfg.out" && ok "prints checking for $d... yes" ||
        not_ok "prints checking for $d... yes" "$(head -3 "$T_TMP/cfg.out")"
done
[ "$(mk CFLAGS)" = "-O1 -g" ] && [ "$(mk LDFLAGS)" = "-Wl,-O1" ] && [ "$(mk PREFIX)" = /opt/t ] &&
    ok "the Makefile takes CFLAGS, LDFLAGS and --prefix" || not_ok "the Makefile takes CFLAGS, LDFLAGS and --prefix" "$(head -8 "$W/Makefile")"
[ "$(mk CONFIGURE_COMMAND)" = "./configure --prefix=/opt/t CC=cc 'CFLAGS=-O1 -g' LDFLAGS=-Wl,-O1" ] &&
    ok "the recorded command line names the environment's settings" ||
    not_ok "the recorded command line names the environment's settings" "$(mk CONFIGURE_COMMAND)"

# make reruns the recorded command without that environment: same settings.
sleep 1; touch "$W/Makefile.in"
if (cd "$W" && env -u CC -u CFLAGS -u LDFLAGS make -s Makefile) >"$T_TMP/mk.out" 2>&1 &&
    [ "$(mk CFLAGS)" = "-O1 -g" ] && [ "$(mk LDFLAGS)" = "-Wl,-O1" ] && [ "$(mk PREFIX)" = /opt/t ]; then
    ok "make's rerun of configure keeps CFLAGS, LDFLAGS and --prefix"
else not_ok "make's rerun of configure keeps CFLAGS, LDFLAGS and --prefix" "$(cat "$T_TMP/mk.out")" "$(head -8 "$W/Makefile")"; fi

# An argument overrides the environment and is recorded once.
cfg env -u CC -u LDFLAGS CFLAGS=-O1 sh ./configure CFLAGS=-O3
[ "$(mk CFLAGS)" = "-O3" ] && [ "$(mk CONFIGURE_COMMAND)" = "./configure CFLAGS=-O3" ] &&
    ok "CFLAGS=... as an argument wins over the environment" ||
    not_ok "CFLAGS=... as an argument wins over the environment" "$(mk CONFIGURE_COMMAND)"

cfg env -u CC -u CFLAGS -u LDFLAGS sh ./configure
[ "$(mk CONFIGURE_COMMAND)" = "./configure" ] && [ "$(mk CFLAGS)" = "-O2 -g" ] &&
    ok "no settings: the defaults, nothing extra recorded" || not_ok "no settings: the defaults, nothing extra recorded" "$(mk CONFIGURE_COMMAND)"

cfg sh ./configure --enable-sanitizers --disable-werror
grep -q -- '-fsanitize=address,undefined' "$W/Makefile" && ! grep -q '^WARNFLAGS.*-Werror' "$W/Makefile" &&
    ok "--enable-sanitizers and --disable-werror" || not_ok "--enable-sanitizers and --disable-werror"

cfg sh ./configure --no-such-option
[ $? = 2 ] && grep -q "unknown option '--no-such-option'" "$T_TMP/cfg.err" &&
    ok "an unknown option exits 2" || not_ok "an unknown option exits 2" "$(cat "$T_TMP/cfg.err")"
cfg sh ./configure --help
[ $? = 0 ] && grep -q -- '--prefix=DIR' "$T_TMP/cfg.out" && grep -q -- '--install-deps' "$T_TMP/cfg.out" &&
    ok "--help lists the options" || not_ok "--help lists the options"

# A missing dependency: configure stops naming the Debian package.  A PATH
# with everything but ninja.
mkdir -p "$T_TMP/bin"
for d in $(printf '%s\n' "$PATH" | tr ':' ' '); do
    for f in "$d"/*; do
        b=$(basename "$f")
        [ "$b" = ninja ] || [ -e "$T_TMP/bin/$b" ] || ln -s "$f" "$T_TMP/bin/$b" 2>/dev/null
    done
done
cfg env PATH="$T_TMP/bin" sh ./configure
rc=$?
[ $rc = 1 ] && grep -qx 'checking for ninja\.\.\. no' "$T_TMP/cfg.out" &&
    grep -q 'install the Debian package ninja-build' "$T_TMP/cfg.err" &&
    ok "a missing ninja stops configure, naming ninja-build" ||
    not_ok "a missing ninja stops configure, naming ninja-build" "exit $rc" "$(cat "$T_TMP/cfg.err")"
t_done
