# Cross-compiles the kernel, its C++ tests and the bench for 64-bit ARM Linux, and runs them
# under qemu, to check that the portable vector code builds (as NEON) and computes the same
# results off x86. Debian/Ubuntu packages: g++-aarch64-linux-gnu qemu-user.
#
#   cmake -S . -B build/arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DNEURALFX_BUILD_PYTHON=OFF -DNEURALFX_BUILD_TESTS=ON -DNEURALFX_BUILD_BENCH=ON
#   cmake --build build/arm64 && (cd build/arm64 && ctest)
#
# Under emulation ctest takes ~25 min on a 2-core x86 VM, and the bench's rates say nothing about
# an ARM core's speed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# ctest runs the test binaries through this.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
