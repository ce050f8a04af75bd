"""Store.intake(): blocks committed while the message arrives, under a pk reserved for it; nothing left behind."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from email.message import EmailMessage

import pytest

from mailcapture import ingest
from mailcapture.storage.sqlite import SQLiteStore

BLOCK = 64 * 1024


def _raw(n: int, size: int = 600_000) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = f"intake {n}"
    msg.set_content("body")
    msg.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream", filename="r.bin")
    return msg.as_bytes()


def _feed(intake: object, raw: bytes, piece: int = 50_000) -> None:
    view = memoryview(raw)
    for i in range(0, len(raw), piece):
        intake.feed(view[i : i + piece])  # type: ignore[attr-defined]


def _count(db_path: str, table: str) -> int:
    with closing(sqlite3.connect(db_path)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def _settle(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


@pytest.fixture
async def small_blocks(db_path: str):  # type: ignore[no-untyped-def]
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    yield store
    await store.close()


async def test_blocks_are_committed_before_the_message_and_it_round_trips(small_blocks: SQLiteStore,
                                                                           db_path: str) -> None:
    raw = _raw(1)
    intake = small_blocks.intake()
    _feed(intake, raw)
    # the whole blocks are in the database before the end of DATA; the message is not listed yet
    assert await _settle(lambda: _count(db_path, "raw_blocks") >= len(raw) // BLOCK)
    assert _count(db_path, "messages") == 0
    assert (await small_blocks.page(None, 0, 10)).total == 0
    msg_id = await intake.add(raw, asyncio.sleep(0, ingest.prepare(raw, "a@example.com", [], "")))
    assert await small_blocks.raw(msg_id) == raw
    assert _count(db_path, "raw_blocks") == -(-len(raw) // BLOCK)


async def test_an_aborted_intake_leaves_no_blocks(small_blocks: SQLiteStore, db_path: str) -> None:
    raw = _raw(2)
    intake = small_blocks.intake()
    _feed(intake, raw[: len(raw) // 2])
    assert await _settle(lambda: _count(db_path, "raw_blocks") > 0)
    intake.abort()
    assert await _settle(lambda: _count(db_path, "raw_blocks") == 0)


async def test_a_failed_parse_stores_nothing_and_leaves_no_blocks(small_blocks: SQLiteStore, db_path: str) -> None:
    raw = _raw(3)
    intake = small_blocks.intake()
    _feed(intake, raw)

    async def broken() -> ingest.NewMessage:
        raise RuntimeError("parse exploded")

    with pytest.raises(RuntimeError):
        await intake.add(raw, broken())
    assert await _settle(lambda: _count(db_path, "raw_blocks") == 0)
    assert _count(db_path, "messages") == 0


async def test_blocks_of_a_message_that_never_came_are_deleted_when_the_store_opens(db_path: str) -> None:
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    kept = await store.add(ingest.prepare(_raw(4), "a@x", [], ""))
    await store.close()
    with closing(sqlite3.connect(db_path)) as conn:  # as if the process had died mid-message
        conn.executemany("INSERT INTO raw_blocks VALUES (999, ?, 0, x'00')", [(0,), (1,)])
        conn.commit()
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        assert await store.raw(kept) is not None
    finally:
        await store.close()
    with closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("SELECT count(*) FROM raw_blocks WHERE message = 999").fetchone()[0] == 0


async def test_interleaved_intakes_and_plain_adds_get_their_own_pks(small_blocks: SQLiteStore) -> None:
    raws = [_raw(10 + n, 300_000 + n * 70_000) for n in range(4)]
    intakes = [small_blocks.intake() for _ in raws]
    for start in range(0, max(map(len, raws)), 40_000):  # the messages arrive at the same time
        for intake, raw in zip(intakes, raws):
            if start < len(raw):
                intake.feed(memoryview(raw)[start : start + 40_000])
        await asyncio.sleep(0)
    plain = _raw(99)
    plain_id = await small_blocks.add(ingest.prepare(plain, "a@x", [], ""))
    ids = await asyncio.gather(*(intake.add(raw, asyncio.sleep(0, ingest.prepare(raw, "a@x", [], "")))
                                 for intake, raw in zip(intakes, raws)))
    for msg_id, raw in [*zip(ids, raws), (plain_id, plain)]:
        assert await small_blocks.raw(msg_id) == raw
    assert (await small_blocks.page(None, 0, 10)).total == 5
