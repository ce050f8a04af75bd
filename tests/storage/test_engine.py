"""The engine itself: tenants, journal modes, migrations, atomic writes, IDs, life cycle."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import SQLiteStore
from mailcapture.storage.sqlite.schema import load_migrations, table_prefix

from .builders import Inspect, Spec, attachment, build


async def test_two_tenants_in_one_file_are_isolated(db_path: str, inspect_db: Inspect) -> None:
    a = SQLiteStore(db_path, tenant_id="team-a!")
    b = SQLiteStore(db_path, tenant_id="team_b")
    await a.open()
    await b.open()
    try:
        id_a = await a.add(build(Spec(subject="for a", tags=["a-only"])))
        id_b = await b.add(build(Spec(subject="for b", tags=["b-only"])))
        assert [m.id for m in (await a.page(None, 0, 10)).messages] == [id_a]
        assert [m.id for m in (await b.page(None, 0, 10)).messages] == [id_b]
        assert await a.detail(id_b) is None and await a.raw(id_b) is None
        assert await a.tags() == ["a-only"] and await b.tags() == ["b-only"]
        assert await b.delete(None) == [id_b]
        assert (await a.stats()).total == 1
    finally:
        await a.close()
        await b.close()
    tables = {r[0] for r in inspect_db("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"team_a__messages", "team_b_messages", "team_a__schema_migrations", "team_b_schema_migrations"} <= tables
    assert "messages" not in tables  # no default tenant was opened
    versions = [m.version for m in load_migrations()]
    assert [r[0] for r in inspect_db("SELECT version FROM team_b_schema_migrations")] == versions


def test_table_prefix_sanitising() -> None:
    assert table_prefix("") == ""
    assert table_prefix("  ") == ""
    assert table_prefix("team-a!") == "team_a__"
    assert table_prefix("ok_1") == "ok_1_"
    assert table_prefix("9lives") == "t9lives_"
    assert table_prefix("x'; DROP TABLE messages; --") == "x___DROP_TABLE_messages_____"


@pytest.mark.parametrize("wal", [True, False])
async def test_journal_modes(db_path: str, wal: bool) -> None:
    store = SQLiteStore(db_path, wal=wal)
    await store.open()
    try:
        message = build(Spec(bodies=[attachment(os.urandom(10_000))]))
        id_ = await store.add(message)
        assert await store.raw(id_) == message.raw
        assert os.path.exists(db_path + "-wal") is wal
        stats = await store.stats()
        assert stats.total == 1 and stats.size_bytes >= os.path.getsize(db_path)
    finally:
        await store.close()
    assert not os.path.exists(db_path + "-wal")  # the writer closes last and checkpoints
    with closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == ("wal" if wal else "delete")


async def test_reopening_keeps_data_and_applies_no_migration_twice(db_path: str, inspect_db: Inspect) -> None:
    store = SQLiteStore(db_path)
    await store.open()
    id_ = await store.add(build(Spec(tags=["kept"])))
    await store.mark_read([id_], None, True)
    await store.close()
    again = SQLiteStore(db_path, compression=0)
    await again.open()
    try:
        detail = await again.detail(id_)
        assert detail is not None and detail.read and detail.tags == ["kept"]
    finally:
        await again.close()
    assert inspect_db("SELECT count(*) FROM schema_migrations") == [(len(load_migrations()),)]


async def test_a_failure_mid_transaction_stores_nothing(store: SQLiteStore, inspect_db: Inspect) -> None:
    kept = await store.add(build(Spec(tags=["old"])))
    # a real failure inside the transaction, after the message row and its blocks were inserted
    inspect_db("CREATE TRIGGER fail_part BEFORE INSERT ON parts WHEN NEW.filename = 'boom.bin' "
               "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    doomed = build(Spec(tags=["brand-new"], bodies=[attachment(os.urandom(2_000_000), filename="boom.bin")]))
    with pytest.raises(StorageError, match="disk on fire"):
        await store.add(doomed)
    assert inspect_db("SELECT count(*) FROM messages") == [(1,)]
    assert inspect_db("SELECT count(*) FROM raw_blocks WHERE message != (SELECT pk FROM messages)") == [(0,)]
    assert inspect_db("SELECT count(*) FROM parts WHERE message != (SELECT pk FROM messages)") == [(0,)]
    assert await store.tags() == ["old"]
    assert (await store.stats()).total == 1
    # the writer goes on working
    inspect_db("DROP TRIGGER fail_part")
    assert (await store.page(None, 0, 10)).messages[0].id == kept
    await store.add(doomed)
    assert (await store.stats()).total == 2


async def test_bad_part_ranges_and_duplicate_part_ids_are_refused(store: SQLiteStore) -> None:
    message = build(Spec(bodies=[attachment(b"abc")]))
    message.parts[1].end = len(message.raw) + 1
    with pytest.raises(StorageError, match="outside"):
        await store.add(message)
    message = build(Spec(bodies=[attachment(b"abc")]))
    message.parts[1].record.part_id = "1"
    with pytest.raises(StorageError, match="twice"):
        await store.add(message)
    assert (await store.stats()).total == 0


async def test_ids_are_22_url_safe_characters(store: SQLiteStore) -> None:
    ids = await asyncio.gather(*(store.add(build(Spec())) for _ in range(20)))
    assert len(set(ids)) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)


async def test_closed_store_and_bad_arguments(db_path: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SQLiteStore(db_path, compression=-1)
    with pytest.raises(ValueError):
        SQLiteStore(":memory:")
    store = SQLiteStore(str(tmp_path / "sub" / "dir" / "mail.db"))  # missing directories are created
    with pytest.raises(StorageError, match="not open"):
        await store.page(None, 0, 10)
    await store.open()
    await store.add(build(Spec()))
    await store.close()
    await store.close()
    with pytest.raises(StorageError, match="not open"):
        await store.add(build(Spec()))
    await store.open()  # a closed store can be opened again
    try:
        assert (await store.stats()).total == 1
    finally:
        await store.close()


async def test_an_unopenable_file_is_a_storage_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "junk.db"
    not_a_db.write_bytes(b"this is not a database" * 100)
    store = SQLiteStore(str(not_a_db))
    with pytest.raises(StorageError):
        await store.open()
    under_a_file = SQLiteStore(str(not_a_db / "mail.db"))
    with pytest.raises(StorageError, match="directory"):
        await under_a_file.open()


async def test_reads_proceed_while_a_big_write_is_queued(store: SQLiteStore) -> None:
    first = await store.add(build(Spec()))
    big = build(Spec(bodies=[attachment(os.urandom(8_000_000))]))
    writing = asyncio.ensure_future(store.add(big))
    reads = await asyncio.gather(*(store.detail(first) for _ in range(20)))
    assert all(d is not None for d in reads)
    assert await store.raw(await writing) == big.raw
