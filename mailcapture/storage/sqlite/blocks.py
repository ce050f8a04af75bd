"""The raw message as fixed-size blocks, each compressed on its own (zstd) or stored as is.

Reading ``raw[start:end]`` touches only the blocks that cover the range. A block's ``compressed``
flag is stored with it, so changing the compression level never needs old rows rewritten. A block
may also be *derived* (``decoded.DERIVED``): partly or wholly rebuilt from a part kept decoded
(see ``decoded.py``); :func:`block_bytes` turns every kind into the raw bytes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from functools import partial

import zstandard

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import decoded, reads
from mailcapture.storage.sqlite.schema import Tables

BLOCK_SIZE = 1024 * 1024
MAX_LEVEL = 22
STORED, ZSTD, DERIVED = 0, 1, decoded.DERIVED

_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "compressors", None)
    if cache is None:
        cache = _local.compressors = {}
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def compress(data: bytes | memoryview, level: int, min_saving: float = 0.0) -> tuple[int, bytes | memoryview]:
    """``(flag, payload)``: zstd at ``level`` when that saves space (more than ``min_saving``, a fraction of
    the size), else the bytes as they are."""
    if level <= 0 or len(data) == 0:
        return STORED, data
    packed = _compressor(level).compress(data)
    if len(packed) >= len(data) * (1 - min_saving):
        return STORED, data
    return ZSTD, packed


def compress_pieces(pieces: list[bytes | memoryview], level: int) -> tuple[int, bytes] | None:
    """``compress(b"".join(pieces), level)`` without the join: one zstd frame (with its content size)
    fed piece by piece. None when compressing would not save space (store the joined bytes instead)."""
    size = sum(len(p) for p in pieces)
    if level <= 0 or size == 0:
        return None
    stream = _compressor(level).compressobj(size=size)
    out = [stream.compress(piece) for piece in pieces]
    out.append(stream.flush())
    packed = b"".join(out)
    return None if len(packed) >= size else (ZSTD, packed)


def decompress(flag: int, payload: bytes) -> bytes:
    if flag == STORED:
        return payload
    if flag == ZSTD:
        try:
            return _decompressor().decompress(payload)
        except zstandard.ZstdError as exc:
            raise StorageError(f"a stored block is corrupt: {exc}") from exc
    raise StorageError(f"a stored block has an unknown compression flag {flag}")


def chunk_of(conn: sqlite3.Connection, t: Tables, pk: int, part_id: str, seq: int) -> bytes:
    """One decoded chunk of a part kept decoded."""
    found = reads.chunk_rows(conn, t, pk, part_id, seq, 1)
    if not found:
        raise StorageError(f"chunk {seq} of part {part_id} is missing (the message was deleted meanwhile?)")
    return decompress(*found[0])


def block_bytes(conn: sqlite3.Connection, t: Tables, pk: int, flag: int, payload: bytes) -> tuple[int, bytes]:
    """A stored block as ``(flag, payload)`` that :func:`decompress` takes: a derived block is rebuilt."""
    if flag != DERIVED:
        return flag, payload
    return STORED, decoded.materialize(payload, partial(chunk_of, conn, t, pk), decompress)


def split(raw: bytes, block_size: int = BLOCK_SIZE) -> list[memoryview]:
    view = memoryview(raw)
    return [view[i : i + block_size] for i in range(0, len(view), block_size)]


def _block_rows(conn: sqlite3.Connection, tables: Tables, pk: int, first: int, last: int
                ) -> Iterator[tuple[int, int, bytes]]:
    yield from conn.execute(
        f"SELECT seq, compressed, data FROM {tables.blocks} WHERE message = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        (pk, first, last),
    )


def _piece(seq: int, block: bytes, block_size: int, start: int, end: int) -> memoryview:
    base = seq * block_size
    return memoryview(block)[max(start - base, 0) : end - base]


def _checked(seq: int, block: bytes, block_size: int, size: int) -> bytes:
    """A block must have exactly the length its place in the message gives it."""
    if len(block) != min(block_size, size - seq * block_size):
        raise StorageError(f"raw block {seq} of a message has a wrong length ({len(block)} bytes)")
    return block


def read_range(conn: sqlite3.Connection, tables: Tables, pk: int, block_size: int, size: int,
               start: int, end: int) -> bytes:
    """``raw[start:end]`` of message ``pk`` of ``size`` bytes (offsets already clamped to the message)."""
    if start >= end:
        return b""
    first, last = start // block_size, (end - 1) // block_size
    pieces: list[memoryview] = []
    expected = first
    for seq, flag, payload in _block_rows(conn, tables, pk, first, last):
        if seq != expected:
            break
        block = _checked(seq, decompress(*block_bytes(conn, tables, pk, flag, payload)), block_size, size)
        pieces.append(_piece(seq, block, block_size, start, end))
        expected += 1
    if expected != last + 1:
        raise StorageError(f"raw block {expected} of a message is missing")
    return pieces[0].tobytes() if len(pieces) == 1 else b"".join(pieces)


def block_span(block_size: int, start: int, end: int) -> range:
    """Sequence numbers of the blocks covering ``raw[start:end]``."""
    if start >= end:
        return range(0)
    return range(start // block_size, (end - 1) // block_size + 1)


def piece_of(seq: int, block: bytes, block_size: int, start: int, end: int) -> bytes:
    piece = _piece(seq, block, block_size, start, end)
    return block if len(piece) == len(block) else piece.tobytes()
