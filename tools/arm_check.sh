#!/usr/bin/env bash
# Cross-builds the kernel, its C++ tests and the bench for 64-bit ARM Linux and runs ctest under
# qemu (toolchain: cmake/aarch64-linux-gnu.cmake), to check that the portable vector code builds
# (as NEON) and computes the same results off x86. 20-25 min on a 2-core x86 VM, most of it
# the reference tests under emulation; not part of `make test`.
#
# ARM_COMPILER=clang builds with Clang (cmake/aarch64-linux-gnu-clang.cmake) instead of GCC.
#
# usage: make arm-check [ARM_COMPILER=clang]   (installs the pip packages of every C++ build
#                                              first, then runs this)
#        [ARM_COMPILER=clang] tools/arm_check.sh [BUILD_DIR]   (default: build/arm64, build/arm64-clang)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${ARM_COMPILER:-gcc}" in
  gcc) TOOLCHAIN=cmake/aarch64-linux-gnu.cmake; BUILD="${1:-build/arm64}"; PACKAGES=() ;;
  clang) TOOLCHAIN=cmake/aarch64-linux-gnu-clang.cmake; BUILD="${1:-build/arm64-clang}"; PACKAGES=(clang) ;;
  *) echo "arm_check: ARM_COMPILER must be gcc or clang, not '${ARM_COMPILER}'" >&2; exit 2 ;;
esac

bash tools/apt_require.sh g++-aarch64-linux-gnu qemu-user "${PACKAGES[@]}"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
      -DNEURALFX_BUILD_PYTHON=OFF -DNEURALFX_BUILD_TESTS=ON -DNEURALFX_BUILD_BENCH=ON \
      -DPython_EXECUTABLE="$(command -v "${PYTHON:-python3}")"
cmake --build "$BUILD" -j "${JOBS:-2}"
cd "$BUILD" && ctest --output-on-failure
