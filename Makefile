# The README's two commands: `make demo` and `make test`. Each sets up everything it
# needs on a fresh Debian machine (system packages, a virtual environment, the build).
#
#   make demo      export a random-weight ResNet-18, run it in libdeployrt, print parity and latency
#   make test      C++ tests (ctest) and Python tests (pytest)
#   make build     build only (Python package into .venv, C++ runtime + tests into build/cpp)
#   make clean     remove build outputs (keeps .venv)

PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
# build/py: scikit-build-core's build (pyproject.toml), for the Python package.
# build/cpp: plain CMake, no Python: the runtime, deployrt-run, the GoogleTest suite, and
# the build tree that the SDK tests install (`cmake --install`) and build examples against.
CPP_BUILD := build/cpp
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# ccache: the release runtime is compiled twice with the same flags (build/py for the Python
# package, build/cpp for the C++ tests and SDK). CMake takes the launcher from the
# environment when it configures a build dir, so the second build reuses the first's objects.
# Evaluated in the recipes, after system-deps has installed ccache.
WITH_CCACHE := CC=gcc CXX=g++ CMAKE_C_COMPILER_LAUNCHER=$$(command -v ccache) CMAKE_CXX_COMPILER_LAUNCHER=$$(command -v ccache)

.PHONY: demo test build system-deps venv python-install cpp-build test-cpp test-python clean

demo: python-install
	$(VENV)/bin/deploykit demo

test: build
	$(MAKE) test-cpp
	$(MAKE) test-python
	$(MAKE) test-sanitizers

build: python-install cpp-build

# System packages: compiler, CMake, Ninja, GoogleTest, venv support.
system-deps:
	@missing=""; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	command -v ninja >/dev/null || missing="$$missing ninja-build"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	command -v ccache >/dev/null || missing="$$missing ccache"; \
	command -v clang++ >/dev/null || missing="$$missing clang"; \
	[ -f /usr/include/gtest/gtest.h ] || missing="$$missing libgtest-dev"; \
	$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || missing="$$missing python3-venv"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.deps-stamp: requirements-dev.txt pyproject.toml | system-deps
	[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.deps-stamp

# Builds libdeployrt, deploykit._runtime and deployrt-run via scikit-build-core.
# build/py is kept between runs, so this is incremental.
python-install: venv
	$(WITH_CCACHE) $(VPY) -m pip install -q --no-build-isolation --no-deps .

# Plain CMake, no Python: the runtime, deployrt-run and the GoogleTest suite.
cpp-build: system-deps
	$(WITH_CCACHE) cmake -S . -B $(CPP_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(CPP_BUILD) -j $(JOBS)

test-cpp: cpp-build
	ctest --test-dir $(CPP_BUILD) --output-on-failure -j $(JOBS)

# With the ccache launcher: the tests that build the runtime from source (an ops subset,
# the examples) then reuse the objects cpp-build compiled.
test-python: python-install cpp-build
	$(WITH_CCACHE) DEPLOYRT_CMAKE_DIR=$(CURDIR)/$(CPP_BUILD) $(VPY) -m pytest -q tests

clean:
	rm -rf build

# --- robustness (docs/SECURITY.md) ----------------------------------------------------
# build/asan: clang, ASan+UBSan, with libFuzzer coverage (the same build runs the C++ suite
# and the fuzz harnesses); build/tsan: clang, TSan; build/fuzz: fuzz corpora and artifacts.
ASAN_BUILD   := build/asan
TSAN_BUILD   := build/tsan
FUZZ_DIR     := build/fuzz
FUZZ_SECONDS ?= 40
LONG_FUZZ_SECONDS ?= 3600
SAN_CMAKE    := CC=clang CXX=clang++ cmake -S . -G Ninja -DCMAKE_BUILD_TYPE=Release \
                -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DDEPLOYRT_BUILD_TOOLS=OFF -DDEPLOYRT_BUILD_PYTHON=OFF
SAN_ENV      := ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_TESTS   := Concurrency*:ThreadPool*:Module.Concurrent*:DynamicShapes.Concurrent*:Loop.Concurrent*

.PHONY: asan-build tsan-build test-sanitizers fuzz robustness-report

asan-build: system-deps
	$(SAN_CMAKE) -B $(ASAN_BUILD) -DDEPLOYRT_BUILD_FUZZ=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target deployrt_tests deployrt-sweep fuzz_load fuzz_load_run

tsan-build: system-deps
	$(SAN_CMAKE) -B $(TSAN_BUILD) -DDEPLOYRT_TSAN=ON
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target deployrt_thread_tests

# The whole C++ suite under ASan+UBSan, the threading tests under TSan, and a bounded
# fuzz slice (FUZZ_SECONDS split between the two harnesses); any report fails the target.
test-sanitizers: asan-build tsan-build python-install
	$(SAN_ENV) $(ASAN_BUILD)/deployrt_tests --gtest_brief=1
	TSAN_OPTIONS=halt_on_error=1:allocator_may_return_null=1 $(TSAN_BUILD)/deployrt_thread_tests --gtest_brief=1 --gtest_filter='$(TSAN_TESTS)'
	$(VPY) scripts/robustness_report.py fuzz --build $(ASAN_BUILD) --seconds $(FUZZ_SECONDS) --workdir $(FUZZ_DIR)

# Long fuzzing (LONG_FUZZ_SECONDS, default 1 h), keeping the corpora in build/fuzz.
fuzz: asan-build python-install
	$(VPY) scripts/robustness_report.py fuzz --build $(ASAN_BUILD) --seconds $(LONG_FUZZ_SECONDS) --workdir $(FUZZ_DIR)

# Refreshes the figures in docs/SECURITY.md (sanitizer runs, sweeps, FUZZ_REPORT_SECONDS of fuzzing).
FUZZ_REPORT_SECONDS ?= 600
robustness-report: asan-build tsan-build python-install
	$(VPY) scripts/robustness_report.py report --asan $(ASAN_BUILD) --tsan $(TSAN_BUILD) \
	  --sweep-bin $(ASAN_BUILD)/deployrt-sweep --seconds $(FUZZ_REPORT_SECONDS) --workdir $(FUZZ_DIR)
