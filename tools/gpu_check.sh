#!/usr/bin/env bash
# Training on a CUDA machine: the training tests with the GPU picked by device="auto", then
# benchmarks/training_speed.py on the CPU and the GPU in one run. For a machine that has torch
# with CUDA but cannot reach a package index: wheels for the other dependencies (pedalboard,
# auraloss, nlohmann-json, pybind11) and torchlpc's source archive, built there against that
# torch, are taken from WHEELS (default .whl/); the extension is built in place with CMake. Logs
# and the benchmark's JSON go to OUT (default out/gpu). TESTS names the test files (empty: none);
# the script's arguments go to the benchmark.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
WHEELS=${WHEELS:-.whl}
mkdir -p "$OUT"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"

if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/nfx-site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/nfx-site
fi
for sdist in "$WHEELS"/*.tar.gz; do
  [ -e "$sdist" ] || continue
  TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=$(nproc) python3 -m pip install -q --no-index --no-deps \
    --no-build-isolation --no-cache-dir --target /tmp/nfx-site "$sdist" >"$OUT/sdist.log" 2>&1 || { tail -30 "$OUT/sdist.log"; exit 1; }
done
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DNEURALFX_BUILD_TESTS=OFF -DNEURALFX_BUILD_BENCH=OFF \
  -DNEURALFX_BUILD_PYTHON=ON -DPython_EXECUTABLE="$(command -v python3)" \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
cmake --build build/gpu -j"$(nproc)" >>"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
cp build/gpu/_core*.so neuralfx/ || exit 1

TESTS=${TESTS-tests/test_training.py tests/test_train_arch.py tests/test_dsp_training.py tests/test_recipes.py \
tests/test_greybox.py tests/test_report.py}
if [ -n "$TESTS" ]; then
  # shellcheck disable=SC2086  # TESTS is a list of paths
  PYTHONUNBUFFERED=1 timeout 240 python3 -m pytest -q -p no:cacheprovider $TESTS 2>&1 | tee "$OUT/pytest.log" | tail -25
  tests_status=${PIPESTATUS[0]}
  echo "pytest exit $tests_status"
fi

# The JSON is written after every row, so a run stopped by the timeout keeps its rows.
PYTHONUNBUFFERED=1 timeout 300 python3 benchmarks/training_speed.py --devices cpu,cuda --batch-sizes 8,32 \
  --json "$OUT/training_speed.json" "$@" 2>&1 | tee "$OUT/training_speed.txt"
bench_status=${PIPESTATUS[0]}
echo "benchmark exit $bench_status"
[ "${tests_status:-0}" -eq 0 ] && [ "$bench_status" -eq 0 ]
