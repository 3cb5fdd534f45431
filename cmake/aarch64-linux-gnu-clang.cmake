# The ARM cross-build of cmake/aarch64-linux-gnu.cmake with Clang instead of GCC (the compiler
# of macOS on Apple silicon): `make arm-check ARM_COMPILER=clang`. Clang links against the GCC
# cross toolchain's libraries, so that toolchain is installed as well.
include("${CMAKE_CURRENT_LIST_DIR}/aarch64-linux-gnu.cmake")
set(CMAKE_C_COMPILER clang)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_C_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
