"""The fast DATA path: read a message body in large chunks instead of line by line.

Stock aiosmtpd reads DATA one line at a time in Python (about 20 MB/s). Here the body is read from
the ``StreamReader`` in chunks of up to :data:`CHUNK_SIZE`; the end of data (``CRLF . CRLF``) is
searched with ``bytes.find`` in each chunk and in a small window across the previous chunk's last
four bytes, so a terminator split across chunks is found too. The window starts with a virtual
``CRLF`` (the end of the ``DATA`` command line), so an empty message (``DATA`` followed directly by
``.CRLF``) needs no special case.

Kept bytes go into an ``io.BytesIO``: it grows in place and ``getvalue()`` hands over its buffer
without copying, so a message costs about its own size in memory (not two or three times that).

Dot-unstuffing (RFC 5321 4.5.2: the first character of a line that starts with a period is
deleted) is one ``replace(b"\\r\\n.", b"\\r\\n")`` pass plus the first-line case, done only when
the message contains such a line; for a conforming client this equals replacing ``CRLF ..`` by
``CRLF .``.

Bytes after the terminator belong to the next command (PIPELINING) and are handed back to the
reader. Over the size limit the rest of the body is read and dropped (nothing buffered) and
``None`` is returned.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

CRLF = b"\r\n"
TERMINATOR = b"\r\n.\r\n"
STUFFED_LINE_START = b"\r\n."
DOT = b"."
# Largest single read from the stream reader (the event loop's socket reads are 256 KiB).
CHUNK_SIZE = 1024 * 1024
# While the body streams in, let the reader buffer this much before it pauses the socket.
READ_BUFFER_LIMIT = 1024 * 1024
_TAIL = len(TERMINATOR) - 1  # a terminator can start this many bytes before a chunk's end
# Of a terminator split across chunks, up to this many bytes (".\r") may already have been kept.
_MAX_KEPT_OF_TERMINATOR = len(TERMINATOR) - len(CRLF) - 1


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


def unstuff(data: bytes) -> bytes:
    """Undo dot-stuffing of a message (without its final ``.CRLF``)."""
    if data.startswith(DOT):
        data = data[1:]
    if data.find(STUFFED_LINE_START) >= 0:
        data = data.replace(STUFFED_LINE_START, CRLF)
    return data


def find_terminator(tail: bytes, chunk: bytes) -> int | None:
    """Where the first ``CRLF . CRLF`` starts, relative to ``chunk`` (negative: within ``tail``)."""
    window = tail + chunk[: len(TERMINATOR)]
    found = window.find(TERMINATOR)
    if found >= 0:
        return found - len(tail)
    found = chunk.find(TERMINATOR)
    return found if found >= 0 else None


async def read_data(
    reader: asyncio.StreamReader,
    max_size: int,
    on_progress: Callable[[], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    reserve: Reserve | None = None,
) -> bytes | None:
    """Read one DATA body up to and including ``CRLF . CRLF``.

    Returns the unstuffed message, or ``None`` when the body as sent (without the final ``.CRLF``)
    is larger than ``max_size`` bytes; the whole body has been consumed either way. Raises
    :class:`ConnectionLostInData` at end of stream. ``on_progress`` runs after every chunk (the
    server resets its idle timeout there). ``reserve(n)`` is asked before ``n`` more bytes are
    kept; when it says no, the rest of the body is read and dropped and :class:`OverMemoryBudget` is
    raised (the caller gives back what was reserved).
    """
    over_budget = False
    body: io.BytesIO | None = io.BytesIO()
    size = 0  # body bytes seen so far, kept or not
    tail = CRLF  # the bytes just before ``chunk``; at first the end of the DATA command line
    while True:
        chunk = await reader.read(chunk_size)
        if not chunk:
            raise ConnectionLostInData("connection closed during DATA")
        if on_progress is not None:
            on_progress()
        start = find_terminator(tail, chunk)
        if start is None:
            size += len(chunk)
            if body is not None:
                if size - _MAX_KEPT_OF_TERMINATOR > max_size:
                    body = None  # over the limit: drop what we have, keep reading to the end
                elif reserve is not None and not reserve(len(chunk)):
                    body, over_budget = None, True
                else:
                    body.write(chunk)
            tail = chunk[-_TAIL:] if len(chunk) >= _TAIL else (tail + chunk)[-_TAIL:]
            continue
        dot = start + len(CRLF)  # the final "." (relative to chunk; negative if already kept)
        consumed = start + len(TERMINATOR)
        if consumed < len(chunk):
            unread(reader, chunk[consumed:])
        size += dot
        if body is None or size > max_size:
            if over_budget and size <= max_size:
                raise OverMemoryBudget(f"no room for a message of {size} bytes")
            return None
        if dot > 0 and reserve is not None and not reserve(dot):
            raise OverMemoryBudget(f"no room for a message of {size} bytes")
        if dot >= 0:
            body.write(memoryview(chunk)[:dot])
        else:
            body.truncate(size)
        del chunk
        data = body.getvalue()  # shares the buffer: no copy
        del body
        return unstuff(data)
