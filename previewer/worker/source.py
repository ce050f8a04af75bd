"""A worker reads its input straight from the capture store (direct read, ``previewer.direct``).

The job names the store (file, table prefix) and the part (``Span``); the bytes are decoded here, in
the worker, so a hung or huge read is bounded by the task timeout and killed with the worker.

- Images (``"stream"``): the worker's thread reads the first piece and the decoder starts on it while a
  helper thread reads the rest piece by piece (:class:`DecodingInput`). For a part the capture store keeps
  decoded (``Span.in_chunks``, see ``mailcapture.storage.sqlite.decoded``) the pieces are its chunks read
  as they are, 256 KiB at a time (~1.1 ms for a 12 MP JPEG); for a part still base64 in the raw message,
  zstd and base64 decoding too (~6 ms). SQLite, zstd and Pillow's decoders run without the GIL, so with
  the helper on another CPU (:class:`_Placement`) the read costs the render little time.
- ``"spool"`` inputs (anything above PREVIEWER_SPOOL_THRESHOLD) are written to a private temp
  file piece by piece, never held whole.
- The rest (documents, small videos) are read into memory.

One helper thread per worker, so a worker holds at most two database connections.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import itertools
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite.direct import ENGINE, DirectReader, Span, same_file
from previewer.protocol import ArrivingInput
from previewer.sniff import SNIFF_BYTES
from previewer.worker.failures import CorruptInput, MissingInput

_readers: dict[tuple[str, str, int, int], DirectReader] = {}  # at most one entry: a worker serves one capture store
_helper: ThreadPoolExecutor | None = None


def _reader(store: dict[str, Any]) -> DirectReader:
    """The reader of this store's file. Keyed by the file's identity too: a capture service that
    recreated its database at the same path must not be read through a connection to the old file."""
    key = (str(store["db"]), str(store.get("prefix", "")), int(store["device"]), int(store["inode"]))
    reader = _readers.get(key)
    if reader is None:
        for old in _readers.values():
            old.close()
        _readers.clear()
        if not same_file({"engine": ENGINE, "path": key[0], "device": key[2], "inode": key[3]}):
            raise MissingInput(f"the capture store {key[0]} is not the file the job was made for")
        reader = _readers[key] = DirectReader(key[0], key[1])
    return reader


def _helper_thread() -> ThreadPoolExecutor:
    global _helper
    if _helper is None:
        _helper = ThreadPoolExecutor(1, thread_name_prefix="input-decoder", initializer=_placement.started)
    _placement.apart()
    return _helper


class _Placement:
    """Keeps the helper thread off the CPU the worker's own thread runs on.

    In a KVM guest an idle vCPU counts as preempted, so the scheduler wakes the helper on the waker's CPU
    (80-86 % of jobs here), where it waits for the decoder to yield and its reads add to the decode time
    instead of overlapping it. 12 MP JPEG kept decoded, 30 ms idle before each job, in-process: +1.4-1.5 ms
    over decoding from memory with the helper placed freely, +0.5-0.6 ms apart (jemalloc; glibc +2.3-3.0
    -> +0.7-0.9 ms). Only the helper is narrowed, to the process's CPUs minus the current one, and only
    until the worker's thread has to wait for it: then the other CPUs may all be busy (another worker)
    while this one idles, so the helper may run anywhere again until the next job."""

    def __init__(self) -> None:
        self.helper_tid = 0
        self.allowed: frozenset[int] = frozenset()
        self.current: frozenset[int] = frozenset()
        self.getcpu: Callable[[], int] | None = None

    def started(self) -> None:  # in the helper thread, once
        self.helper_tid = threading.get_native_id()
        try:
            self.allowed = self.current = frozenset(os.sched_getaffinity(0))
            fn = ctypes.CDLL(None).sched_getcpu
            fn.restype, fn.argtypes = ctypes.c_int, []
            self.getcpu = fn
        except (OSError, AttributeError):  # no such call here: leave placement to the scheduler
            self.getcpu = None

    def apart(self) -> None:  # in the worker's thread, before waking the helper
        if self.getcpu is not None and self.helper_tid and len(self.allowed) > 1:
            self._pin(self.allowed - {self.getcpu()})

    def anywhere(self) -> None:  # in the worker's thread, about to wait for the helper
        if self.getcpu is not None and self.current != self.allowed:
            self._pin(self.allowed)

    def _pin(self, cpus: frozenset[int]) -> None:
        if not cpus or cpus == self.current:
            return
        try:
            os.sched_setaffinity(self.helper_tid, cpus)
            self.current = cpus
        except OSError:  # e.g. the CPU set changed under us: leave it to the scheduler from now on
            self.getcpu = None


_placement = _Placement()


def _checked(pieces: Iterator[bytes], size: int, total: int = 0) -> Iterator[bytes]:
    """``pieces`` (which follow ``total`` bytes already read), raising when they add up to another size."""
    for piece in pieces:
        total += len(piece)
        if total > size:
            raise CorruptInput(f"the stored part is longer than its recorded {size} bytes")
        yield piece
    if total != size:
        raise CorruptInput(f"the stored part has {total} bytes, not its recorded {size}")


class DecodingInput(ArrivingInput):
    """A seekable, read-only file over the pieces a helper thread decodes: a read blocks until the bytes
    it asks for are decoded (or raises what stopped the decoding)."""

    def __init__(self, pieces: Iterator[bytes], size: int, executor: ThreadPoolExecutor,
                 ready: list[bytes] | None = None) -> None:
        """``ready``: pieces already read (by the caller's thread): the decoder starts on them while the helper
        thread wakes up to read the rest of ``pieces``."""
        super().__init__()
        self._size = size
        self._pieces: list[bytes] = []  # as decoded: no buffer to zero-fill, no copy into it
        self._starts: list[int] = []  # offset of each piece
        self._filled = 0
        for piece in ready or ():
            self._add(piece)
        self._done = False
        self._stop = False
        self._error: BaseException | None = None
        self._cv = threading.Condition()
        self._future: Future[None] = executor.submit(self._produce, pieces)

    def _produce(self, pieces: Iterator[bytes]) -> None:
        try:
            for piece in _checked(pieces, self._size, self._filled):
                if self._stop:
                    return
                with self._cv:
                    self._add(piece)
                    self._cv.notify_all()
        except BaseException as exc:  # handed to the reader, which raises it
            self._error = exc
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
            with self._cv:
                self._done = True
                self._cv.notify_all()

    def _add(self, piece: bytes) -> None:  # under the lock once the helper runs
        self._starts.append(self._filled)
        self._pieces.append(piece)
        self._filled += len(piece)

    def _wait(self, upto: int) -> int:
        if self._filled < upto and not self._done:
            _placement.anywhere()
        with self._cv:
            while self._filled < upto and not self._done:
                self._cv.wait()
            if self._filled < upto and self._error is not None:
                raise self._error
            return min(upto, self._filled)

    def _length(self) -> int:
        return self._size

    def _take(self, start: int, want: int) -> bytes:
        want = min(self._size, want)
        if want <= start:
            return b""
        end = self._wait(want)
        i = bisect.bisect_right(self._starts, start) - 1
        first = self._pieces[i]
        lo = start - self._starts[i]
        if lo + (end - start) <= len(first):  # within one piece: one copy (none for a whole piece)
            return first if lo == 0 and end - start == len(first) else first[lo : lo + end - start]
        out = [memoryview(first)[lo:]]
        pos = self._starts[i] + len(first)
        while pos < end:
            i += 1
            piece = self._pieces[i]
            out.append(memoryview(piece)[: end - pos])
            pos += len(piece)
        return b"".join(out)

    @property
    def failure(self) -> BaseException | None:
        """What stopped the helper, once it has stopped (None while it runs or when all went well)."""
        return self._error if self._done else None

    def close(self) -> None:
        """Stop the helper (it finishes its current piece) and wait for it: no thread outlives the job."""
        if not self.closed:
            self._stop = True
            with contextlib.suppress(BaseException):
                self._future.result()
            self._pieces.clear()
        super().close()


def _peek(pieces: Iterator[bytes], n: int) -> tuple[bytes, Iterator[bytes]]:
    """The first ``n`` bytes (fewer when there are not that many), and every piece, those read included."""
    taken: list[bytes] = []
    size = 0
    for piece in pieces:
        taken.append(piece)
        size += len(piece)
        if size >= n:
            break
    return b"".join(taken)[:n], itertools.chain(taken, pieces)


@contextlib.contextmanager
def opened(store: dict[str, Any], check: Callable[[bytes], None] | None = None
           ) -> Iterator[bytes | str | DecodingInput]:
    """The input as a file being decoded, bytes, or the path of a temp file removed on exit.

    ``check`` is given the first SNIFF_BYTES before the rest is read (to confirm the type); what it
    raises ends the read."""
    reader = _reader(store)
    span = Span.from_dict(store["span"])
    path: str | None = None
    streamed: DecodingInput | None = None
    try:
        if store.get("stream"):
            # The first piece is read here and handed over as read: waking the idle helper thread takes
            # 1-2 ms on this machine after an idle gap, and the decoder would wait for it.
            pieces = reader.pieces(span, early=True)
            first = next(pieces, None)
            streamed = DecodingInput(pieces, span.size, _helper_thread(), ready=[] if first is None else [first])
            if check is not None:
                check(streamed.read(SNIFF_BYTES))
                streamed.seek(0)
            yield streamed
            streamed.close()
            if streamed.failure is not None:  # e.g. more bytes than recorded, after the renderer had its own
                raise streamed.failure
            return
        pieces = _checked(reader.pieces(span), span.size)
        if check is not None:
            head, pieces = _peek(pieces, SNIFF_BYTES)
            check(head)
        if store.get("spool"):
            fd, path = tempfile.mkstemp(prefix="input-")  # TMPDIR is this worker's private directory
            with os.fdopen(fd, "wb") as f:
                for piece in pieces:
                    f.write(piece)
            yield path
        else:
            yield b"".join(pieces)
    except StorageError as exc:
        raise MissingInput(f"the attachment could not be read from the capture store: {exc}") from None
    finally:
        if streamed is not None:
            streamed.close()
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
