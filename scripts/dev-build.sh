#!/usr/bin/env bash
# Private development build, for working on several parts of the tree side by side
# without touching .venv's installed copy of deploykit:
#
#   scripts/dev-build.sh /tmp/mybuild        # C++ runtime + tests + Python module in /tmp/mybuild
#   eval "$(scripts/dev-build.sh /tmp/mybuild --env)"   # then: python -m pytest tests ...
#
# It builds with plain CMake (tests and the Python module both on) and assembles
# <build>/pyroot/deploykit: symlinks to python/deploykit/* plus the freshly built
# _runtime module, so PYTHONPATH=<build>/pyroot runs the sources with that runtime.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:?usage: scripts/dev-build.sh BUILD_DIR [--env]}"
py="$repo/.venv/bin/python"
if [ "${2:-}" != "--env" ]; then
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEPLOYRT_BUILD_PYTHON=ON \
    -DPython_EXECUTABLE="$py" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" >/dev/null
  cmake --build "$build" -j "$(nproc)"
fi
root="$build/pyroot/deploykit"
rm -rf "$build/pyroot"; mkdir -p "$root"
for entry in "$repo"/python/deploykit/*; do
  case "$(basename "$entry")" in __pycache__|_runtime*) continue ;; esac
  ln -s "$entry" "$root/"
done
ln -s "$build"/_runtime*.so "$root/"
# The C/C++ SDK as pip lays it out (deploykit/{include,lib}; deploykit.cmake_dir()).
cmake --install "$build" --prefix "$build/sdk" >/dev/null
ln -s "$build/sdk/include" "$build/sdk/lib" "$root/"
if [ "${2:-}" = "--env" ]; then
  echo "export PYTHONPATH='$build/pyroot' DEPLOYRT_RUN='$build/deployrt-run' DEPLOYRT_CMAKE_DIR='$build' PATH='$build':\"\$PATH\""
fi
