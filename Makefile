# The two commands of the README:  make demo  /  make test
# Both set up everything a fresh machine needs (pip packages, the C++ build) first.

PYTHON ?= python3
BUILD  ?= build/cmake
JOBS   ?= 2

.PHONY: demo test install cpp cpp-test pytest bench clean

install:
	$(PYTHON) -m pip install --quiet ".[test,report]"

cpp:
	$(PYTHON) -m pip install --quiet "nlohmann-json>=3.11" importlib_resources
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$$(command -v $(PYTHON))
	cmake --build $(BUILD) -j $(JOBS)

demo: install
	$(PYTHON) -m neuralfx.cli demo

cpp-test: cpp
	cd $(BUILD) && ctest --output-on-failure

# Runs from tests/ so that `import neuralfx` finds the installed package (with its compiled
# kernel), not the source folder.
pytest: install
	cd tests && $(PYTHON) -m pytest -q -p no:cacheprovider .

test: cpp-test pytest

bench: cpp
	$(BUILD)/neuralfx-bench presets/*.nfx

clean:
	rm -rf build out
