#!/usr/bin/env bash
# Install what building and testing fattn needs, from Debian 12's own
# packages and nothing else. Idempotent: packages already installed are left
# alone, and apt-get update runs only when something is missing.
set -euo pipefail

# meson + ninja: the build; gcc/g++ and clang: the two compilers the suite is
# built with (g++/clang++ compile the C++ header test); libclang-rt-14-dev:
# clang's ASan/UBSan runtimes (only a Recommends of Debian 12's clang, and
# recommends are not installed here); pkg-config: the install test; python3:
# test and build helper scripts; llvm: coverage tools; libbenchmark-dev,
# libopenblas-dev, libdnnl-dev: the benchmark suite (bench/) and its two
# unfused baselines; gnuplot-nox: scripts/bench.sh's charts (no X);
# cmake: the CMake package's consumer test; libopenmpi-dev and openmpi-bin:
# examples/context_parallel_mpi.c; python3-dev, python3-mesonpy,
# python3-numpy, python3-pytest, python3-venv: the Python package (python/),
# its build and its tests, with Debian's own python3.
PACKAGES=(meson ninja-build gcc g++ clang libclang-rt-14-dev pkg-config
          python3 llvm libbenchmark-dev libopenblas-dev libdnnl-dev
          gnuplot-nox cmake libopenmpi-dev openmpi-bin python3-dev
          python3-mesonpy python3-numpy python3-pytest python3-venv)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all build dependencies are installed"
    exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
