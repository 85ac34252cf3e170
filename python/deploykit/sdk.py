"""Where pip put the C/C++ SDK: libdeployrt (shared and static), its headers, the CMake
package and the pkg-config file, all inside the installed deploykit package:

    deploykit/include/deployrt/{deployrt.h, deployrt_c.h}
    deploykit/lib/{libdeployrt.so, libdeployrt.a}
    deploykit/lib/cmake/deployrt/deployrtConfig.cmake   <- cmake_dir()
    deploykit/lib/pkgconfig/deployrt.pc                  <- pkgconfig_dir()

    cmake -S app -B build -Ddeployrt_DIR="$(deploykit --cmake-dir)"
    PKG_CONFIG_PATH="$(deploykit --pkgconfig-dir)" pkg-config --cflags --libs deployrt
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InternalError

# Not resolve(): a development tree links the package's files from elsewhere (scripts/dev-build.sh).
_PACKAGE_DIR = Path(os.path.abspath(__file__)).parent


def _sdk_path(*parts: str, marker: str) -> str:
    path = _PACKAGE_DIR.joinpath(*parts)
    if not (path / marker).is_file():
        raise InternalError(f"the deploykit C++ SDK is not installed next to the package ({path / marker} is "
                            "missing): install deploykit with pip (`pip install .`), which builds and installs it")
    return str(path)


def cmake_dir() -> str:
    """Directory holding deployrtConfig.cmake: pass it as deployrt_DIR to find_package(deployrt CONFIG)."""
    return _sdk_path("lib", "cmake", "deployrt", marker="deployrtConfig.cmake")


def pkgconfig_dir() -> str:
    """Directory holding deployrt.pc: add it to PKG_CONFIG_PATH."""
    return _sdk_path("lib", "pkgconfig", marker="deployrt.pc")


def include_dir() -> str:
    """Directory to add to the include path (it holds deployrt/deployrt.h and deployrt/deployrt_c.h)."""
    return _sdk_path("include", marker="deployrt/deployrt.h")


def lib_dir() -> str:
    """Directory holding libdeployrt.so and libdeployrt.a."""
    return _sdk_path("lib", marker="libdeployrt.a")
