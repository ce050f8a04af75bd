"""The framing between the service and its worker processes (stdlib only: workers import it).

A frame is ``>II`` (header length, payload length), a JSON header, then the raw payload. The service
writes requests to a worker's stdin and reads replies from its stdout; the worker's own fd 1 is
redirected to stderr so stray prints from C libraries cannot corrupt the stream.

A request with ``"stream": true`` carries only the head of its input; the rest follows in data frames
(``{"data":1}`` + bytes) and then one end frame (``{"end":1}``) or, when the download failed, an abort
frame (``{"abort":1}``). The worker reads through to that last frame before it answers.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
from typing import Any, BinaryIO

PREFIX = struct.Struct(">II")
MAX_HEADER = 1 << 20
MAX_PAYLOAD = 1 << 30

Header = dict[str, Any]
_DATA_HEADER = b'{"data":1}'
STREAM_ABORT: Header = {"abort": 1}


class ProtocolError(Exception):
    """The other side sent something that is not a frame (it crashed or wrote garbage)."""


def encode(header: Header, payload: bytes = b"") -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(raw), len(payload)) + raw + payload


STREAM_END = encode({"end": 1})


def data_prefix(length: int) -> bytes:
    """Everything of a data frame but its ``length`` bytes of payload (written after it)."""
    return PREFIX.pack(len(_DATA_HEADER), length) + _DATA_HEADER


def _decode(prefix: bytes) -> tuple[int, int]:
    hlen, plen = PREFIX.unpack(prefix)
    if hlen > MAX_HEADER or plen > MAX_PAYLOAD:
        raise ProtocolError(f"frame too large ({hlen}, {plen})")
    return hlen, plen


def read_frame(stream: BinaryIO) -> tuple[Header, bytes] | None:
    """Blocking read (worker side). None at a clean end of input."""
    prefix = stream.read(PREFIX.size)
    if not prefix:
        return None
    if len(prefix) != PREFIX.size:
        raise ProtocolError("truncated frame prefix")
    hlen, plen = _decode(prefix)
    header = stream.read(hlen)
    payload = stream.read(plen) if plen else b""
    if len(header) != hlen or len(payload) != plen:
        raise ProtocolError("truncated frame")
    return json.loads(header), payload


async def read_frame_async(reader: asyncio.StreamReader) -> tuple[Header, bytes]:
    """Service side; raises asyncio.IncompleteReadError when the worker died."""
    hlen, plen = _decode(await reader.readexactly(PREFIX.size))
    header = json.loads(await reader.readexactly(hlen))
    payload = await reader.readexactly(plen) if plen else b""
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not an object")
    return header, payload


class StreamAborted(Exception):
    """The service stopped sending a streamed input (its download failed)."""


class ArrivingInput(io.RawIOBase):
    """A read-only, seekable file over bytes that may still be arriving (worker side). Subclasses give its
    length (``_length``, which may wait for the end) and the bytes ``[start, want)`` as far as they exist
    (``_take``, which waits until they have arrived); everything stays readable, so decoders may seek back."""

    def __init__(self) -> None:
        super().__init__()
        self._pos = 0

    def _length(self) -> int:
        raise NotImplementedError

    def _take(self, start: int, want: int) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._length() + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        want = self._length() if size is None or size < 0 else self._pos + size
        data = self._take(self._pos, want)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)


class StreamedInput(ArrivingInput):
    """A streamed input: its bytes arrive in data frames on the worker's stdin."""

    def __init__(self, stream: BinaryIO, head: bytes) -> None:
        super().__init__()
        self._stream = stream
        self._buf = bytearray(head)
        self._ended = False

    def _receive(self) -> bool:
        """One more frame; False at the end of the input."""
        if self._ended:
            return False
        frame = read_frame(self._stream)
        if frame is None:
            raise ProtocolError("end of input inside a streamed request")
        header, payload = frame
        if header.get("data"):
            self._buf += payload
            return True
        self._ended = True
        if header.get("abort"):
            raise StreamAborted("the input stopped arriving")
        return False

    def _fill(self, upto: int | None) -> None:
        while (upto is None or len(self._buf) < upto) and self._receive():
            pass

    def drain(self) -> None:
        """Read through to the last frame of this request (whatever the decoder did not need)."""
        while not self._ended:
            try:
                self._receive()
            except StreamAborted:
                return

    def _length(self) -> int:
        self._fill(None)
        return len(self._buf)

    def _take(self, start: int, want: int) -> bytes:
        self._fill(want)
        end = min(want, len(self._buf))
        with memoryview(self._buf) as view:
            return bytes(view[min(start, end) : end])
