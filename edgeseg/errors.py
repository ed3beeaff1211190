"""The exceptions a user can cause; the CLI prints them as one line and exits 2."""


class EdgesegError(Exception):
    """Base of every user-caused error. The message is one line, shown as ``error: <message>``."""


class DataError(EdgesegError):
    """A dataset, image or label map is missing, unreadable or inconsistent."""


class SpecError(EdgesegError):
    """A model/dataset spec or manifest is invalid."""


class ModelError(EdgesegError):
    """A model file is missing, of the wrong type, corrupt or untrusted."""


class ExportError(EdgesegError):
    """A conversion could not be done as asked."""


class RuntimeBackendError(EdgesegError):
    """An inference engine, accelerator or delegate is unavailable or failed."""


class UsageError(EdgesegError):
    """Flags or arguments that conflict or are out of range."""


def one_line(what: BaseException | str, limit: int | None = None) -> str:
    """``what`` (an exception or text) as one line for an error message: whitespace runs become one
    space, an empty exception gives its class name, and text over ``limit`` characters ends in ``...``."""
    text = " ".join(str(what).split())
    if not text:
        text = type(what).__name__ if isinstance(what, BaseException) else "unknown error"
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    return text
