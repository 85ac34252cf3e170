"""Exception classes. Every error deploykit raises on purpose derives from DeployError.

The runtime's error codes (cpp/runtime/include/deployrt/deployrt.h, ErrorCode) map
one to one onto the runtime classes below; the bindings raise them.
"""


class DeployError(Exception):
    """Base class of every deploykit error."""


class ArchiveIOError(DeployError, OSError):
    """The archive file cannot be opened, read or mapped (ErrorCode::kIo)."""


class ArchiveError(DeployError):
    """The archive is malformed, corrupt or fails verification (ErrorCode::kArchive)."""


class UnsupportedError(DeployError):
    """The archive is valid but needs ops or versions this runtime lacks (ErrorCode::kUnsupported)."""


class InputError(DeployError, ValueError):
    """Inputs to forward() have the wrong count, dtype or shape (ErrorCode::kInput)."""


class LimitError(DeployError):
    """A documented limit is exceeded (ErrorCode::kLimit)."""


class InternalError(DeployError):
    """A bug in deploykit (ErrorCode::kInternal)."""


class ExportError(DeployError):
    """The model cannot be exported."""


class UnsupportedOpsError(ExportError):
    """The model uses ops deploykit cannot export. `.ops` lists (op, source location) pairs."""

    def __init__(self, message, ops=()):
        super().__init__(message)
        self.ops = list(ops)


# Runtime error code -> class, used by the bindings.
ERROR_CLASSES = {
    1: ArchiveIOError,
    2: ArchiveError,
    3: UnsupportedError,
    4: InputError,
    5: LimitError,
    6: InternalError,
}
