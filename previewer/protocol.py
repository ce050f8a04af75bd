"""The framing between the service and its worker processes (stdlib only: workers import it).

A frame is ``>II`` (header length, payload length), a JSON header, then the raw payload. The service
writes requests to a worker's stdin and reads replies from its stdout; the worker's own fd 1 is
redirected to stderr so stray prints from C libraries cannot corrupt the stream.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, BinaryIO

PREFIX = struct.Struct(">II")
MAX_HEADER = 1 << 20
MAX_PAYLOAD = 1 << 30

Header = dict[str, Any]


class ProtocolError(Exception):
    """The other side sent something that is not a frame (it crashed or wrote garbage)."""


def encode(header: Header, payload: bytes = b"") -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(raw), len(payload)) + raw + payload


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
