"""deploykit: export PyTorch models to .dkr archives and run them with a small C++ runtime."""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ArchiveError,
    ArchiveIOError,
    DeployError,
    ExportError,
    InputError,
    InternalError,
    LimitError,
    UnsupportedError,
    UnsupportedOpsError,
)
from .export import export  # noqa: E402
from .runtime import Module, load, load_bytes  # noqa: E402
from .sdk import cmake_dir  # noqa: E402

__all__ = [
    "__version__",
    "export",
    "load",
    "load_bytes",
    "cmake_dir",
    "Module",
    "DeployError",
    "ArchiveIOError",
    "ArchiveError",
    "UnsupportedError",
    "InputError",
    "LimitError",
    "InternalError",
    "ExportError",
    "UnsupportedOpsError",
]
