"""Streaming a part's decoded bytes block by block (the previewer reads big attachments this way).

Cost model (``GET /internal/blob`` of a 3.7 MB JPEG, base64 in a 5 MB stretch of the raw message):
the capture service fixes glibc's mmap threshold at 1 MiB (``mailcapture.memory``), so every buffer
of 1 MiB or more is a fresh mapping whose pages fault in one by one when touched and go back to the
kernel when freed. Decompressing a whole 1 MiB block, then copying it through the base64 decoder,
faulted in ~22 MB of pages per request: more than half of the CPU the request cost. Here a block is
decompressed in pieces of at most ``PIECE`` bytes that flow through the decoder one after another,
so every buffer stays below the threshold, comes from the heap, is reused, and stays in the CPU's
cache. Decoded pieces are gathered a few hundred kilobytes to ``HOP_BYTES`` at a time per
reader-thread call (not one call per piece), and the next call runs while the event loop sends the
pieces of the previous one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager

import zstandard

from mailcapture import mime
from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import blocks, reads
from mailcapture.storage.sqlite.readers import ReaderPool
from mailcapture.storage.sqlite.schema import Tables

SIDE_DATA_CHUNK = 256 * 1024
PIECE = 256 * 1024  # encoded bytes decoded at a time: below the 1 MiB mmap threshold, fits in L2
FIRST_LAZY_PIECE = 64 * 1024  # lazy reads: the first block comes out in smaller pieces (first bytes early)
FIRST_HOP_BYTES = 64 * 1024  # the first reader-thread call returns after its first piece: the client starts early
HOP_BYTES = 2 * 1024 * 1024  # decoded bytes handed to the event loop per later reader-thread call

_local = threading.local()


def _decompressor() -> zstandard.ZstdDecompressor:
    """One per thread, used only within one call (its streaming buffers are reused, never shared)."""
    d: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def _block_row(conn: sqlite3.Connection, t: Tables, pk: int, seq: int) -> tuple[int, bytes] | None:
    row = conn.execute(f"SELECT compressed, data FROM {t.blocks} WHERE message = ? AND seq = ?", (pk, seq)).fetchone()
    return None if row is None else (row[0], row[1])


def _pieces(flag: int, payload: bytes, length: int, lo: int, hi: int) -> list[bytes | memoryview]:
    """``block[lo:hi]`` of a stored block that decompresses to ``length`` bytes, in pieces <= PIECE, all
    decompressed within this call (with this thread's decompressor)."""
    return list(block_pieces(flag, payload, length, lo, hi, _decompressor(), PIECE))


def block_pieces(flag: int, payload: bytes, length: int, lo: int, hi: int,
                 decompressor: zstandard.ZstdDecompressor, piece: int,
                 whole: bool = False) -> Iterator[bytes | memoryview]:
    """``block[lo:hi]`` in pieces of at most ``piece`` bytes, each yielded as soon as it is decompressed.
    The iterator uses ``decompressor`` until it ends: consume it in one thread, with a decompressor
    nothing else uses meanwhile. ``whole``: decompress the block in one call first (about a fifth less
    CPU than streaming it, but a buffer of the block's size and no bytes before the whole block)."""
    if flag == blocks.STORED:
        if len(payload) != length:
            raise StorageError(f"a raw block has a wrong length ({len(payload)} bytes, expected {length})")
        view = memoryview(payload)
        for i in range(lo, hi, piece):
            yield view[i : min(i + piece, hi)]
        return
    if flag != blocks.ZSTD:
        raise StorageError(f"a stored block has an unknown compression flag {flag}")
    if whole:
        try:
            data = decompressor.decompress(payload)
        except zstandard.ZstdError as exc:
            raise StorageError(f"a stored block is corrupt: {exc}") from exc
        yield from block_pieces(blocks.STORED, data, length, lo, hi, decompressor, piece)
        return
    pos = 0
    try:
        for chunk in decompressor.read_to_iter(payload, read_size=len(payload) or 1, write_size=piece):
            end = pos + len(chunk)
            if end > lo and pos < hi:
                yield chunk if lo <= pos and end <= hi else memoryview(chunk)[max(lo - pos, 0) : hi - pos]
            pos = end
            if pos >= hi and hi < length:
                return  # the part ends inside this block: the rest of it is not needed
    except zstandard.ZstdError as exc:
        raise StorageError(f"a stored block is corrupt: {exc}") from exc
    if pos != length:
        raise StorageError(f"a raw block has a wrong length ({pos} bytes, expected {length})")


def encoded_chunks(pool: ReaderPool, t: Tables, loc: reads.PartLocation) -> Iterator[bytes | memoryview]:
    """The part's encoded body in pieces of at most PIECE bytes; a connection is held per block only,
    and each block is decompressed within the call that read it."""
    return encoded_range(pool.borrow, t, loc.message, loc.start, loc.end)


def encoded_range(borrow: Callable[[], AbstractContextManager[sqlite3.Connection]], t: Tables,
                  message: reads.MessageLocation, start: int, end: int, *,
                  lazy: bool = False, early: bool = False) -> Iterator[bytes | memoryview]:
    """``raw[start:end]`` of a message in pieces of at most PIECE bytes, one block row at a time.

    By default each block is decompressed within one call, in PIECE-sized steps (every buffer below glibc's
    mmap threshold; the iterator may move between threads between blocks). ``lazy``: the iterator stays in
    one thread and each block is decompressed in one zstd call (cheaper); with ``early`` the first block
    streams instead, in small pieces, so the first bytes come out at once."""
    decompressor = zstandard.ZstdDecompressor() if lazy else None
    for seq in blocks.block_span(message.block_size, start, end):
        with borrow() as conn:
            row = _block_row(conn, t, message.pk, seq)
            if row is not None:
                row = blocks.block_bytes(conn, t, message.pk, *row)
        if row is None:
            raise StorageError("the message was deleted while its part was being read")
        base = seq * message.block_size
        length = min(message.block_size, message.size - base)
        lo, hi = max(start - base, 0), min(end - base, length)
        if decompressor is None:
            yield from _pieces(row[0], row[1], length, lo, hi)
        elif early and base <= start:  # the first block streams: its first bytes come out at once
            yield from block_pieces(row[0], row[1], length, lo, hi, decompressor, FIRST_LAZY_PIECE)
        else:  # in one call when needed to its end; a range ending inside it streams and stops there
            yield from block_pieces(row[0], row[1], length, lo, hi, decompressor, PIECE, whole=hi >= length)


def _gather(decoder: Iterator[bytes], budget: int) -> tuple[list[bytes], bool]:
    """Up to about ``budget`` decoded bytes (reader thread); True once the decoder is exhausted."""
    out: list[bytes] = []
    size = 0
    for chunk in decoder:
        if chunk:
            out.append(chunk)
            size += len(chunk)
            if size >= budget:
                return out, False
    return out, True


async def decoded_chunks(pool: ReaderPool, t: Tables, loc: reads.PartLocation) -> AsyncIterator[bytes]:
    """The part's decoded bytes in pieces of at most PIECE bytes (or SIDE_DATA_CHUNK).

    The first reader call gathers FIRST_HOP_BYTES (the client gets bytes early), later ones HOP_BYTES,
    and each next call is started before the pieces of the previous one are handed out, so decoding
    in the reader thread overlaps with sending on the event loop."""
    if loc.in_side_table:
        data = await pool.run(lambda conn: side_data(conn, t, loc))
        view = memoryview(data)
        for offset in range(0, len(data), SIDE_DATA_CHUNK):
            yield view[offset : offset + SIDE_DATA_CHUNK].tobytes()
        return
    if loc.in_chunks:
        async for chunk in _decoded_part(pool, t, loc):
            yield chunk
        return
    decoder: Iterator[bytes] = iter(mime.iter_decode(encoded_chunks(pool, t, loc), loc.encoding))
    pending: asyncio.Future[tuple[list[bytes], bool]] | None = None
    try:
        pending = asyncio.ensure_future(pool.call(_gather, decoder, FIRST_HOP_BYTES))
        while pending is not None:
            pieces, done = await pending
            pending = None if done else asyncio.ensure_future(pool.call(_gather, decoder, HOP_BYTES))
            for piece in pieces:
                yield piece
    finally:
        if pending is not None:
            if pending.done():
                if not pending.cancelled():
                    pending.exception()  # retrieved: the consumer went away, nobody wants it
            else:
                pending.cancel()  # a call already running in a reader thread finishes on its own
        # ValueError: still running in a reader thread (the consumer was cancelled); it ends on its own
        with contextlib.suppress(ValueError):
            close = getattr(decoder, "close", None)
            if close is not None:
                close()


async def _decoded_part(pool: ReaderPool, t: Tables, loc: reads.PartLocation) -> AsyncIterator[bytes]:
    """A part kept decoded: its chunks, one reader call each (the next read while this one is sent)."""
    pending: asyncio.Future[bytes | None] | None = asyncio.ensure_future(pool.call(_chunk, pool, t, loc, 0))
    seq, total = 0, 0
    try:
        while pending is not None:
            data = await pending
            if data is None:
                break
            seq += 1
            total += len(data)
            pending = asyncio.ensure_future(pool.call(_chunk, pool, t, loc, seq)) if total < loc.record.size else None
            yield data
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
    if total != loc.record.size:
        raise StorageError(f"part {loc.record.part_id} has {total} decoded bytes, {loc.record.size} recorded")


def _chunk(pool: ReaderPool, t: Tables, loc: reads.PartLocation, seq: int) -> bytes | None:
    with pool.borrow() as conn:
        found = reads.chunk_rows(conn, t, loc.message.pk, loc.record.part_id, seq, 1)
    return blocks.decompress(*found[0]) if found else None


def chunked_bytes(conn: sqlite3.Connection, t: Tables, loc: reads.PartLocation) -> bytes:
    rows = reads.chunk_rows(conn, t, loc.message.pk, loc.record.part_id, 0, -1)
    data = b"".join(blocks.decompress(flag, payload) for flag, payload in rows)
    if len(data) != loc.record.size:
        raise StorageError(f"part {loc.record.part_id} has {len(data)} decoded bytes, {loc.record.size} recorded")
    return data


def side_data(conn: sqlite3.Connection, t: Tables, loc: reads.PartLocation) -> bytes:
    found = reads.part_data(conn, t, loc.message.pk, loc.record.part_id)
    if found is None:
        raise StorageError(f"the data of part {loc.record.part_id} is missing")
    return blocks.decompress(*found)


def part_bytes(conn: sqlite3.Connection, t: Tables, loc: reads.PartLocation) -> bytes:
    """All of a part's decoded bytes: only the blocks covering it are read and decompressed."""
    if loc.in_side_table:
        return side_data(conn, t, loc)
    if loc.in_chunks:
        return chunked_bytes(conn, t, loc)
    encoded = blocks.read_range(conn, t, loc.message.pk, loc.message.block_size, loc.message.size, loc.start, loc.end)
    return mime.decode(encoded, loc.encoding)
