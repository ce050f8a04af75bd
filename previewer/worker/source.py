"""A worker reads its input straight from the capture store (direct read, ``previewer.direct``).

The job names the store (file, table prefix) and the part (``Span``); the bytes are decoded here, in
the worker, so a hung or huge read is bounded by the task timeout and killed with the worker. Inputs
the service marked ``spool`` (videos, and anything above PREVIEWER_SPOOL_THRESHOLD) are written to a
private temp file piece by piece, never held whole; the rest are read into memory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite.direct import DirectReader, Span
from previewer.worker.failures import CorruptInput, MissingInput

_readers: dict[tuple[str, str], DirectReader] = {}  # at most one entry: a worker serves one capture store


def _reader(db: str, prefix: str) -> DirectReader:
    key = (db, prefix)
    reader = _readers.get(key)
    if reader is None:
        for old in _readers.values():
            old.close()
        _readers.clear()
        reader = _readers[key] = DirectReader(db, prefix)
    return reader


def _checked(pieces: Iterator[bytes], size: int) -> Iterator[bytes]:
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > size:
            raise CorruptInput(f"the stored part is longer than its recorded {size} bytes")
        yield piece
    if total != size:
        raise CorruptInput(f"the stored part has {total} bytes, not its recorded {size}")


@contextlib.contextmanager
def opened(store: dict[str, Any]) -> Iterator[bytes | str]:
    """The input as bytes, or as the path of a temp file removed on exit."""
    reader = _reader(str(store["db"]), str(store.get("prefix", "")))
    span = Span.from_dict(store["span"])
    path: str | None = None
    try:
        pieces = _checked(reader.pieces(span), span.size)
        if not store.get("spool"):
            yield b"".join(pieces)
            return
        fd, path = tempfile.mkstemp(prefix="input-")  # TMPDIR is this worker's private directory
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                f.write(piece)
        yield path
    except StorageError as exc:
        raise MissingInput(f"the attachment could not be read from the capture store: {exc}") from None
    finally:
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
