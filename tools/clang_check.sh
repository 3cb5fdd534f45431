#!/usr/bin/env bash
# Builds the kernel, its C++ tests and the bench with Clang and runs ctest: the kernel must build
# with the compiler macOS and many Linux users have (GCC is the default of `make cpp`). The
# Python module and the plugin are left out; they add nothing Clang-specific to the kernel.
#
# usage: make clang-check    (part of `make test`)
#        tools/clang_check.sh [BUILD_DIR]      (default: build/clang)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/clang}"

command -v clang++ >/dev/null || bash tools/apt_require.sh clang
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DNEURALFX_BUILD_PYTHON=OFF -DNEURALFX_BUILD_TESTS=ON -DNEURALFX_BUILD_BENCH=ON \
      -DPython_EXECUTABLE="$(command -v "${PYTHON:-python3}")"
cmake --build "$BUILD" -j "${JOBS:-2}"
# CMakeLists.txt sets LLVM's scheduler for the recurrent loops (top-down on x86, off on 64-bit
# ARM), under whichever spelling of the option this Clang accepts; without it the x86 loops spill
# and run 0.5-0.66x as fast (README, Speed), the NEON ones spill (static counts).
case "$(uname -m)" in
  x86_64|i?86) wanted="-mllvm -misched-prera-direction=topdown or -mllvm -misched-topdown" ;;
  aarch64|arm64) wanted="-mllvm -enable-misched=false" ;;
  *) wanted="" ;;
esac
if [[ -n "$wanted" ]] && ! grep -Eq '^NEURALFX_CLANG_[a-z_]+:INTERNAL=1$' "$BUILD/CMakeCache.txt"; then
  echo "clang-check: $(clang++ --version | head -1) accepted none of $wanted;" \
       "add this LLVM's spelling to the list in CMakeLists.txt" >&2
  exit 1
fi
cd "$BUILD" && ctest --output-on-failure
