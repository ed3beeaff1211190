"""Atomic file writes and file-type sniffing (HDF5, TFLite, ONNX) before any loader runs."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
from pathlib import Path
from typing import Iterator

from edgeseg.errors import EdgesegError, ModelError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it into place only if the block succeeds.

    An interrupted or failed write never leaves a partial file under the final name.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise EdgesegError(f"output directory {parent} is a file")
    tmp_path: Path | None = None
    try:
        with _interrupts_deferred():  # the temp file and the cleanup below come into being together
            try:
                parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=parent)
            except OSError as exc:
                raise EdgesegError(f"cannot write to {parent}: {exc.strerror or exc}") from None
            tmp_path = Path(tmp)
            os.close(fd)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts get the usual mode
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block ends, then deliver them as they would have been.

    A signal that lands between creating a temporary file and arming the code that removes it
    would leave the file behind. Python runs signal handlers in the main thread, so for the block
    they are swapped for handlers that only record the signal, and the recorded signals are raised
    again (with the original handlers back) when it ends. A signal mask would not do: the kernel
    hands a process signal to any thread that does not block it (TensorFlow's, for one). Outside
    the main thread, where handlers cannot be changed, this is a no-op.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def check_output_dir(folder: str | os.PathLike[str]) -> None:
    """Fail early, with one line, if files cannot be created in ``folder``; leave nothing behind.

    Creates missing folders and a probe file, then removes what it created, so that a long job
    (a conversion, a prediction run) does not discover an unusable output folder at the end.
    Works for root too (permission bits do not stop root; a file in the path or /proc does).
    """
    folder = Path(folder) if str(folder) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise EdgesegError(f"output directory {folder} is a file")
    created: list[Path] = []
    probe = folder
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    try:
        for d in reversed(created):
            d.mkdir()
        with _interrupts_deferred():  # a Ctrl-C between creating and removing the probe would leave it
            fd, tmp = tempfile.mkstemp(prefix=".edgeseg-probe.", suffix=".part", dir=folder)
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        raise EdgesegError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    finally:
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()


def _umask() -> int:
    try:  # Linux reports it without changing it (os.umask would, process-wide, for a moment)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sniff_model_format(path: str | os.PathLike[str]) -> str:
    """Return ``h5``, ``keras`` (a Keras 3 zip), ``tflite``, ``onnx`` or ``savedmodel`` (a folder with
    ``saved_model.pb``) from a file's leading bytes.

    Raises:
        ModelError: missing, empty, or not one of these formats.
    """
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{p}: no such file")
    if p.is_dir():
        if (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file():
            return "savedmodel"
        raise ModelError(f"{p}: is a directory without saved_model.pb, expected a model file or SavedModel folder")
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ModelError(f"{p}: cannot read ({exc.strerror})") from None
    if not head:
        raise ModelError(f"{p}: file is empty")
    if head.startswith(HDF5_SIGNATURE):
        return "h5"
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    if _looks_like_onnx(head):
        return "onnx"
    if head.startswith(ZIP_SIGNATURE):  # after TFLite: a .tflite with metadata also holds a zip, at its end
        return "keras"
    raise ModelError(f"{p}: not a Keras .h5/.keras, TFLite or ONNX file (unrecognised header)")


def _looks_like_onnx(head: bytes) -> bool:
    # An ONNX ModelProto starts with field 1 (ir_version, varint: 0x08) in practice,
    # followed by small varint; exporters also put producer_name (0x12) or opset (0x42) early.
    return len(head) >= 2 and head[0] == 0x08 and 0 < head[1] < 0x20


def require_format(path: str | os.PathLike[str], expected: str | tuple[str, ...]) -> str:
    """Sniff and require one of ``expected`` formats; one-line error otherwise."""
    fmt = sniff_model_format(path)
    allowed = (expected,) if isinstance(expected, str) else expected
    if fmt not in allowed:
        raise ModelError(f"{path}: is a {fmt} file, expected {' or '.join(allowed)}")
    return fmt
