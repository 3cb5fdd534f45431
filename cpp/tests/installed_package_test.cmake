# ctest's example_embed_installed (cpp/tests/CMakeLists.txt): installs this build's kernel into
# WORK_DIR/prefix, builds examples/embed against it as a separate project and runs it on MODEL.
# Fails at the first step that fails, with that step's output.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  set(step_output "${out}" PARENT_SCOPE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "example_embed_installed: ${what} failed (${rc})")
  endif()
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
if(NOT CONFIG)
  set(CONFIG Release)
endif()
step("installing the kernel" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --config "${CONFIG}" --component kernel
     --prefix "${prefix}")
# Only the install prefix is given: the build must find everything there, nothing in the source tree.
step("configuring the example" "${CMAKE_COMMAND}" -S "${EXAMPLE_DIR}" -B "${build}" -G "${GENERATOR}"
     -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix})
step("building the example" "${CMAKE_COMMAND}" --build "${build}" --config "${CONFIG}")
find_program(example embed PATHS "${build}" "${build}/${CONFIG}" NO_DEFAULT_PATH REQUIRED)
step("running the example" "${example}" "${MODEL}")
if(NOT step_output MATCHES "model rate 48000 Hz.*last samples")
  message(FATAL_ERROR "example_embed_installed: the example did not print the model's rate and last samples")
endif()
