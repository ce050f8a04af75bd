"""Streaming a part's decoded bytes block by block (the previewer reads big attachments this way)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator

from mailcapture import mime
from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import blocks, reads
from mailcapture.storage.sqlite.readers import ReaderPool
from mailcapture.storage.sqlite.schema import Tables

SIDE_DATA_CHUNK = 1024 * 1024


def encoded_chunks(pool: ReaderPool, t: Tables, loc: reads.PartLocation) -> Iterator[bytes]:
    """The part's encoded body, one block's worth at a time; a connection is held per block only."""
    message = loc.message
    for seq in blocks.block_span(message.block_size, loc.start, loc.end):
        with pool.borrow() as conn:
            block = blocks.read_block(conn, t, message.pk, message.block_size, message.size, seq)
        if block is None:
            raise StorageError("the message was deleted while its part was being read")
        yield blocks.piece_of(seq, block, message.block_size, loc.start, loc.end)


async def decoded_chunks(pool: ReaderPool, t: Tables, loc: reads.PartLocation) -> AsyncIterator[bytes]:
    if loc.in_side_table:
        data = await pool.run(lambda conn: side_data(conn, t, loc))
        for offset in range(0, len(data), SIDE_DATA_CHUNK):
            yield data[offset : offset + SIDE_DATA_CHUNK]
        return
    decoder: Iterator[bytes] = iter(mime.iter_decode(encoded_chunks(pool, t, loc), loc.encoding))
    try:
        while True:
            chunk = await pool.call(next, decoder, None)
            if chunk is None:
                return
            if chunk:
                yield chunk
    finally:
        # ValueError: still running in a reader thread (the consumer was cancelled); it ends on its own
        with contextlib.suppress(ValueError):
            close = getattr(decoder, "close", None)
            if close is not None:
                close()


def side_data(conn: sqlite3.Connection, t: Tables, loc: reads.PartLocation) -> bytes:
    found = reads.part_data(conn, t, loc.message.pk, loc.record.part_id)
    if found is None:
        raise StorageError(f"the data of part {loc.record.part_id} is missing")
    return blocks.decompress(*found)


def part_bytes(conn: sqlite3.Connection, t: Tables, loc: reads.PartLocation) -> bytes:
    """All of a part's decoded bytes: only the blocks covering it are read and decompressed."""
    if loc.in_side_table:
        return side_data(conn, t, loc)
    encoded = blocks.read_range(conn, t, loc.message.pk, loc.message.block_size, loc.message.size, loc.start, loc.end)
    return mime.decode(encoded, loc.encoding)
