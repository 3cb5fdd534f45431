# The two commands of the README:  make demo  /  make test
# Both set up everything a fresh machine needs (pip packages, the C++ builds) first.

PYTHON ?= python3
BUILD  ?= build/cmake
JOBS   ?= 2
PLUGIN_BUNDLE := $(CURDIR)/$(BUILD)/cpp/plugin/NeuralFX_artefacts/Release/VST3/NeuralFX.vst3

.PHONY: demo test install cpp-deps cpp cpp-test clang-check pytest bench plugin arm-check clean

# torch first, then torchlpc built against it without build isolation (an isolated build would
# fetch a CUDA torch), then the package with its C++ kernel. TORCH_INDEX: an index to take torch
# from, e.g. https://download.pytorch.org/whl/cpu where pip would otherwise pick the CUDA build.
TORCH_INDEX ?=
install:
	$(PYTHON) -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "torch==2.13.0"
	$(PYTHON) -m pip install --quiet numpy setuptools wheel
	$(PYTHON) -m pip install --quiet --no-build-isolation "torchlpc==0.7.2"
	$(PYTHON) -m pip install --quiet ".[test,report,dsp]"

# What every C++ build needs from pip (CMakeLists.txt takes nlohmann/json's headers from it).
cpp-deps:
	$(PYTHON) -m pip install --quiet "nlohmann-json>=3.11" importlib_resources

# Kernel, bench, C++ tests and the VST3 plugin (JUCE fetched by cpp/plugin/fetch_juce.sh).
cpp: cpp-deps
	bash cpp/plugin/fetch_juce.sh build/juce
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DNEURALFX_BUILD_PLUGIN=ON \
	      -DNEURALFX_JUCE_ROOT=$(CURDIR)/build/juce -DPython_EXECUTABLE=$$(command -v $(PYTHON))
	cmake --build $(BUILD) -j $(JOBS)

plugin: cpp

# Run outside the checkout so that `import neuralfx` finds the installed package (with its
# compiled kernel), not the source folder.
demo: install
	mkdir -p out && cd out && $(PYTHON) -m neuralfx.cli demo --out-dir $(CURDIR)/out

cpp-test: cpp
	cd $(BUILD) && ctest --output-on-failure

# Runs from tests/ so that `import neuralfx` finds the installed package (with its compiled
# kernel), not the source folder.
pytest: install cpp
	cd tests && NEURALFX_PLUGIN_PATH=$(PLUGIN_BUNDLE) NEURALFX_BENCH=$(CURDIR)/$(BUILD)/neuralfx-bench $(PYTHON) -m pytest -q -p no:cacheprovider .

# The kernel, its C++ tests and the bench built with Clang and run (tools/clang_check.sh, ~2 min).
clang-check: cpp-deps
	JOBS=$(JOBS) PYTHON=$(PYTHON) bash tools/clang_check.sh

# The demo (the README's first command) runs in every test run too; pytest runs last so that
# its summary closes the output.
test: cpp-test clang-check demo pytest

bench: cpp
	$(BUILD)/neuralfx-bench presets/*.nfx

# The kernel cross-built for 64-bit ARM, its ctest run under qemu (tools/arm_check.sh; 20-25 min);
# ARM_COMPILER=clang builds it with Clang.
ARM_COMPILER ?= gcc
arm-check: cpp-deps
	ARM_COMPILER=$(ARM_COMPILER) JOBS=$(JOBS) PYTHON=$(PYTHON) bash tools/arm_check.sh

clean:
	rm -rf build out
