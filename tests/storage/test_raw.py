"""Raw bytes: exact round trips, blocks, compression levels, ranges, size on disk."""

from __future__ import annotations

import os
import random

import pytest

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import SQLiteStore
from mailcapture.storage.sqlite.blocks import BLOCK_SIZE

from .builders import Inspect, Spec, attachment, build



def text_filler(size: int, seed: int = 1) -> bytes:
    """Compressible but not trivial bytes (words from a small vocabulary)."""
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"mail", b"capture", b"\r\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


@pytest.mark.parametrize("level", [0, 1, 3])
async def test_multi_block_message_round_trips_exactly(db_path: str, inspect_db: Inspect, level: int) -> None:
    message = build(Spec(filler=text_filler(2 * BLOCK_SIZE + 12345),
                         bodies=[attachment(os.urandom(300_000))]))
    store = SQLiteStore(db_path, compression=level)
    await store.open()
    try:
        id_ = await store.add(message)
        assert await store.raw(id_) == message.raw
    finally:
        await store.close()
    rows = inspect_db("SELECT seq, compressed, typeof(data), length(data) FROM raw_blocks ORDER BY seq")
    assert [r[0] for r in rows] == [0, 1, 2]
    assert all(r[2] == "blob" for r in rows)  # bytes stored as BLOBs, never text
    if level == 0:
        assert [r[1] for r in rows] == [0, 0, 0]
        assert sum(int(r[3]) for r in rows) == len(message.raw)
    else:
        assert rows[0][1] == 1 and int(rows[0][3]) < BLOCK_SIZE // 2


async def test_changing_the_level_keeps_old_rows_readable(db_path: str, inspect_db: Inspect) -> None:
    first = build(Spec(subject="stored", filler=text_filler(BLOCK_SIZE + 10)))
    second = build(Spec(subject="zstd", filler=text_filler(BLOCK_SIZE + 10, seed=2)))
    old = SQLiteStore(db_path, compression=0)
    await old.open()
    id1 = await old.add(first)
    await old.close()
    new = SQLiteStore(db_path, compression=3)
    await new.open()
    try:
        id2 = await new.add(second)
        assert await new.raw(id1) == first.raw
        assert await new.raw(id2) == second.raw
        assert await new.raw_range(id1, BLOCK_SIZE - 5, BLOCK_SIZE + 5) == first.raw[BLOCK_SIZE - 5 : BLOCK_SIZE + 5]
    finally:
        await new.close()
    flags = inspect_db("SELECT m.subject, b.compressed FROM raw_blocks b JOIN messages m ON m.pk = b.message "
                       "ORDER BY m.pk, b.seq")
    assert flags == [("stored", 0), ("stored", 0), ("zstd", 1), ("zstd", 1)]


async def test_raw_range_across_block_edges(store: SQLiteStore) -> None:
    message = build(Spec(filler=text_filler(3 * BLOCK_SIZE), bodies=[attachment(os.urandom(1000))]))
    raw = message.raw
    id_ = await store.add(message)
    size = len(raw)
    cases = [
        (0, 1), (0, 0), (5, 3), (BLOCK_SIZE - 1, BLOCK_SIZE + 1), (BLOCK_SIZE, 2 * BLOCK_SIZE),
        (BLOCK_SIZE - 10, 3 * BLOCK_SIZE + 10), (size - 3, size + 100), (0, size), (size, size + 5),
    ]
    for start, end in cases:
        assert await store.raw_range(id_, start, end) == raw[start:end], (start, end)
    assert await store.raw_range(id_, -5, 10) == raw[:10]
    assert await store.raw_range("no-such-id", 0, 10) is None
    assert await store.raw("no-such-id") is None


async def test_range_reads_only_the_blocks_it_needs(store: SQLiteStore, inspect_db: Inspect) -> None:
    message = build(Spec(filler=text_filler(3 * BLOCK_SIZE)))
    id_ = await store.add(message)
    # damage block 2 behind the store's back: ranges in blocks 0-1 must not notice
    inspect_db("UPDATE raw_blocks SET data = x'00112233' WHERE seq = 2 AND compressed = 1")
    assert await store.raw_range(id_, 10, 2 * BLOCK_SIZE - 1) == message.raw[10 : 2 * BLOCK_SIZE - 1]
    with pytest.raises(StorageError):
        await store.raw(id_)


async def test_a_stored_block_of_the_wrong_length_is_an_error(db_path: str, inspect_db: Inspect) -> None:
    store = SQLiteStore(db_path, compression=0)
    await store.open()
    try:
        message = build(Spec(filler=text_filler(BLOCK_SIZE)))
        id_ = await store.add(message)
        inspect_db("UPDATE raw_blocks SET data = substr(data, 1, 100) WHERE seq = 1")
        assert await store.raw_range(id_, 0, 100) == message.raw[:100]
        with pytest.raises(StorageError, match="wrong length"):
            await store.raw_range(id_, BLOCK_SIZE, BLOCK_SIZE + 10)
    finally:
        await store.close()


async def test_level_0_database_is_at_most_1_1x_the_raw_bytes(db_path: str) -> None:
    """What the data costs on disk, on top of the empty schema (a fixed page or two per table)."""
    store = SQLiteStore(db_path, compression=0)
    await store.open()
    try:
        await store.vacuum()
        empty = (await store.stats()).size_bytes
        received = 0
        for n in range(3):
            message = build(Spec(message_id=f"{n}@x", bodies=[attachment(os.urandom(1_500_000))]))
            received += len(message.raw)
            await store.add(message)
        await store.vacuum()
        stats = await store.stats()
    finally:
        await store.close()
    assert received < stats.size_bytes - empty <= 1.1 * received


async def test_vacuum_gives_space_back_after_deletes(store: SQLiteStore) -> None:
    await store.vacuum()
    empty = (await store.stats()).size_bytes
    ids = [await store.add(build(Spec(message_id=f"{n}@x", bodies=[attachment(os.urandom(1_000_000))])))
           for n in range(3)]
    await store.vacuum()
    full = (await store.stats()).size_bytes
    await store.delete(ids)
    await store.vacuum()
    assert (await store.stats()).size_bytes - empty < (full - empty) / 4


@pytest.mark.parametrize("level", [1, 3])
def test_compressing_pieces_equals_compressing_the_joined_block(level: int) -> None:
    from mailcapture.storage.sqlite import blocks

    rng = random.Random(level)
    data = b"".join(rng.choice([b"Subject: x\r\n", os.urandom(300), b"QUJD" * 50]) for _ in range(3000))
    cuts = sorted(rng.sample(range(1, len(data)), 20))
    pieces = [memoryview(data)[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    flag, packed = blocks.compress_pieces(pieces, level)  # type: ignore[misc]
    assert flag == blocks.ZSTD and blocks.decompress(flag, packed) == data
    assert blocks.compress_pieces([os.urandom(5000), os.urandom(5000)], level) is None  # incompressible
