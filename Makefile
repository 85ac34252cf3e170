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
CPP_BUILD := build/cpp
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test build system-deps venv python-install cpp-build test-cpp test-python clean

demo: python-install
	$(VENV)/bin/deploykit demo

test: build
	$(MAKE) test-cpp
	$(MAKE) test-python

build: python-install cpp-build

# System packages: compiler, CMake, Ninja, GoogleTest, venv support.
system-deps:
	@missing=""; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; \
	command -v ninja >/dev/null || missing="$$missing ninja-build"; \
	[ -f /usr/include/gtest/gtest.h ] || missing="$$missing libgtest-dev"; \
	$(PYTHON) -c "import venv, ensurepip" 2>/dev/null || missing="$$missing python3-venv"; \
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
	$(VPY) -m pip install -q --no-build-isolation --no-deps .

# Plain CMake, no Python: the runtime, deployrt-run and the GoogleTest suite.
cpp-build: system-deps
	cmake -S . -B $(CPP_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(CPP_BUILD) -j $(JOBS)

test-cpp: cpp-build
	ctest --test-dir $(CPP_BUILD) --output-on-failure -j $(JOBS)

test-python: python-install
	DEPLOYRT_CMAKE_DIR=$(CURDIR)/$(CPP_BUILD) $(VPY) -m pytest -q tests

clean:
	rm -rf build
