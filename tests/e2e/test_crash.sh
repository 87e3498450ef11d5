#!/bin/sh
# test_crash.sh: the short crash test of make check (about a dozen SIGKILLs
# of aotb link, ninja aot-image and aotb build during an update, on a
# 500-block program); `make check-crash` runs tests/crash/crash.sh with
# 100 kills per writer on 2,000 blocks.
KILLS=${KILLS:-4} BLOCKS=${BLOCKS:-500} CHANGE=${CHANGE:-25} \
    exec sh "$(dirname "$0")/../crash/crash.sh"
