#!/usr/bin/env bash
# Quick start: install the build dependencies (scripts/setup.sh), configure
# and build fattn in build/, then run the main job: `fattn info` and
# `fattn bench` with its defaults. Safe to re-run: an existing build/ is
# reconfigured and rebuilt incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

if [ -f build/meson-private/coredata.dat ]; then
    meson setup --reconfigure build
else
    meson setup build
fi
meson compile -C build -j "${JOBS:-2}"

build/src/cli/fattn info
echo
build/src/cli/fattn bench
