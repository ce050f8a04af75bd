"""The fast DATA path: read a message body in large chunks instead of line by line.

Stock aiosmtpd reads DATA one line at a time in Python (about 20 MB/s). Here the body is read from
the ``StreamReader`` in chunks of up to :data:`CHUNK_SIZE` and handed on, already unstuffed, one
segment per chunk to a :class:`BodySink` while the rest is still arriving (the store can start
compressing the first blocks of a big message before its last byte is in).

Per chunk, one ``memchr`` (``bytes.find(b".")``) decides most of the work: a chunk without a
period (every chunk of a base64 attachment) can hold neither the end of data (``CRLF . CRLF``) nor
a stuffed line, so it is passed on as it is. Otherwise the terminator is searched with
``bytes.find`` and stuffed lines are undone with one ``replace(b"\r\n.", b"\r\n")`` (RFC 5321
4.5.2: the first character of a line that starts with a period is deleted; for a conforming client
this equals replacing ``CRLF ..`` by ``CRLF .``). A chunk ending in what may be the start of the
terminator (``CRLF .`` or ``CRLF . CR``) or in a lone CR keeps those one or two bytes back until the
next chunk arrives, so a terminator split across chunks is found and a segment never ends between
CR and LF (whether the next segment starts a line is known exactly); every other chunk is passed on
whole, without a copy.

Bytes after the terminator belong to the next command (PIPELINING) and are handed back to the
reader. Over the size limit (or the memory budget) the rest of the body is read and dropped, the
sink is aborted and ``None`` is returned (or :class:`OverMemoryBudget` raised).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Protocol

CRLF = b"\r\n"
TERMINATOR = b"\r\n.\r\n"
STUFFED_LINE_START = b"\r\n."
DOT = b"."
LAST_LINE = b".\r\n"  # the terminator when the bytes before it already ended a line
# Largest single read from the stream reader: the event loop's socket reads are 256 KiB, and a chunk
# below glibc's mmap threshold (1 MiB, see mailcapture/memory.py) comes from reused heap memory; a
# 1 MiB chunk was a fresh mmap each time (256 page faults per MiB received).
CHUNK_SIZE = 256 * 1024
# While the body streams in, let the reader buffer this much before it pauses the socket.
READ_BUFFER_LIMIT = 1024 * 1024


class ConnectionLostInData(ConnectionError):
    """The client went away before the end of DATA."""


class OverMemoryBudget(Exception):
    """The server-wide memory budget had no room for this message; its body was read and dropped."""


Reserve = Callable[[int], bool]  # take n more bytes of the server-wide budget; False = no room


def unread(reader: asyncio.StreamReader, data: bytes) -> None:
    """Put bytes read past the end of DATA back at the front of the reader.

    ``StreamReader`` has no public unread; its buffer is a ``bytearray`` (aiosmtpd itself clears it
    on STARTTLS), and nothing can run between our read and this call (no ``await``).
    """
    buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
    buffer[:0] = data


class BodySink(Protocol):
    """Where the unstuffed body goes, in order, segment by segment (called on the event loop: be quick)."""

    def write(self, data: bytes | memoryview) -> None: ...

    def finish(self) -> bytes:
        """The whole body (everything written), once the end of data was read."""
        ...

    def abort(self) -> None:
        """The body will not be delivered (over a limit, connection lost): drop what was kept."""
        ...


class BufferSink:
    """The plain sink: an ``io.BytesIO`` that grows in place; ``finish`` hands its buffer over uncopied."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()

    def write(self, data: bytes | memoryview) -> None:
        self._buffer.write(data)

    def finish(self) -> bytes:
        data = self._buffer.getvalue()  # shares the buffer: no copy
        self._buffer = io.BytesIO()
        return data

    def abort(self) -> None:
        self._buffer = io.BytesIO()


def unstuff(data: bytes) -> bytes:
    """Undo dot-stuffing of a whole message (without its final ``.CRLF``)."""
    return bytes(unstuff_segment(data, len(data), True))


def unstuff_segment(buffer: bytes, end: int, line_start: bool) -> bytes | memoryview:
    """``buffer[:end]`` with dot-stuffing undone; ``line_start``: the bytes before it ended with CRLF.

    A segment without a period (memchr; most of a big message) comes back as a view, uncopied.
    """
    if buffer.find(DOT, 0, end) < 0:
        return memoryview(buffer)[:end]
    segment = buffer[:end]
    if line_start and segment.startswith(DOT):
        segment = segment[1:]
    return segment.replace(STUFFED_LINE_START, CRLF)


def held_back(buffer: bytes, line_start: bool) -> int:
    """How many bytes at the end of ``buffer`` (no terminator in it) must wait for the next chunk.

    The start of a terminator (``.`` or ``.CR`` at the start of a line) is held back, as is a final
    CR, so that a segment never ends between CR and LF: the next segment then knows exactly whether
    it starts a line. Everything else (almost always: all of it) is passed on at once.
    """
    at_line_start = len(buffer) == 2 and line_start
    if buffer.endswith(b".\r"):
        return 2 if at_line_start or buffer.endswith(b"\r\n.\r") else 1
    if buffer.endswith(DOT):
        return 1 if (len(buffer) == 1 and line_start) or buffer.endswith(STUFFED_LINE_START) else 0
    return 1 if buffer.endswith(b"\r") else 0


def find_end(buffer: bytes, line_start: bool) -> tuple[int, int]:
    """``(body_end, consumed)`` of the first terminator in ``buffer``, or ``(-1, -1)``.

    ``body_end``: where the body stops (it keeps the CRLF before the final period); ``consumed``:
    where the bytes after the terminator start. ``line_start``: the bytes before ``buffer`` ended a line.
    """
    dot = buffer.find(DOT)
    if dot < 0:
        return -1, -1
    if line_start and dot == 0 and buffer.startswith(LAST_LINE):
        return 0, len(LAST_LINE)
    found = buffer.find(TERMINATOR, max(dot - len(CRLF), 0))
    if found < 0:
        return -1, -1
    return found + len(CRLF), found + len(TERMINATOR)


async def read_data(
    reader: asyncio.StreamReader,
    max_size: int,
    on_progress: Callable[[], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    reserve: Reserve | None = None,
    sink: BodySink | None = None,
) -> bytes | None:
    """Read one DATA body up to and including ``CRLF . CRLF``.

    Returns the unstuffed message (``sink.finish()``), or ``None`` when the body as sent (without
    the final ``.CRLF``) is larger than ``max_size`` bytes; the whole body has been consumed either
    way. Raises :class:`ConnectionLostInData` at end of stream. ``on_progress`` runs after every
    chunk (the server resets its idle timeout there). ``reserve(n)`` is asked before ``n`` more
    bytes are kept; when it says no, the rest of the body is read and dropped and
    :class:`OverMemoryBudget` is raised (the caller gives back what was reserved). The sink is
    aborted whenever the body is not returned.
    """
    out: BodySink = sink if sink is not None else BufferSink()
    keeping = True
    over_budget = False
    seen = 0  # body bytes as sent (stuffed) passed on or dropped so far
    carry = b""  # the end of the last chunk, held back: a terminator may start in it
    line_start = True  # the next byte starts a line (the DATA command line has just ended)
    try:
        while True:
            chunk = await reader.read(chunk_size)
            if not chunk:
                raise ConnectionLostInData("connection closed during DATA")
            if on_progress is not None:
                on_progress()
            buffer = carry + chunk if carry else chunk
            del chunk
            body_end, consumed = find_end(buffer, line_start)
            if body_end < 0:
                end = len(buffer) - held_back(buffer, line_start)
                if end <= 0:
                    carry = buffer
                    continue
                carry = buffer[end:] if end < len(buffer) else b""
            else:
                end, carry = body_end, b""
                if consumed < len(buffer):
                    unread(reader, buffer[consumed:])
            seen += end
            if keeping and seen > max_size:
                keeping = False
                out.abort()
            elif keeping and end and reserve is not None and not reserve(end):
                keeping, over_budget = False, True
                out.abort()
            if keeping and end:
                out.write(unstuff_segment(buffer, end, line_start))
            if end:
                line_start = buffer.startswith(CRLF, max(end - len(CRLF), 0), end)
            if body_end >= 0:
                break
    except BaseException:
        out.abort()
        raise
    if not keeping:
        if over_budget and seen <= max_size:
            raise OverMemoryBudget(f"no room for a message of {seen} bytes")
        return None
    return out.finish()
