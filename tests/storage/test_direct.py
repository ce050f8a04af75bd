"""Direct reads from another connection (as the previewer does from its own process): the same bytes
as ``Store.blob``, for every way a part is stored, and a clear error when its message goes away."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import SQLiteStore
from mailcapture.storage.sqlite.blocks import BLOCK_SIZE
from mailcapture.storage.sqlite.direct import DirectReader, Span, describe, same_file

from .builders import Spec, attachment, build


@pytest.mark.parametrize("level", [0, 1])
async def test_direct_reads_equal_the_store_s_blobs(db_path: str, level: int) -> None:
    big = os.urandom(2 * BLOCK_SIZE + 12345)
    small = b"tiny attachment"
    qp = "é=\r\n".encode() * 100_000
    fallback = b"y" * 300_000
    store = SQLiteStore(db_path, compression=level)
    await store.open()
    reader = DirectReader(db_path, "")
    try:
        await store.add(build(Spec(bodies=[attachment(big), attachment(small, filename="s.txt"),
                                           attachment(qp, encoding="quoted-printable"),
                                           attachment(fallback, fallback=True)])))
        for payload in (big, small, qp, fallback):
            sha = hashlib.sha256(payload).hexdigest()
            found = reader.locate(sha)
            assert found is not None
            record, span = found
            assert record.sha256 == sha and span.size == len(payload)
            assert Span.from_dict(span.to_dict()) == span
            assert reader.head(span, 4096) == payload[:4096]
            direct = b"".join(reader.pieces(span))
            blob = await store.blob(sha)
            assert blob is not None
            assert direct == b"".join([c async for c in blob[1]]) == payload
        assert reader.locate("0" * 64) is None
    finally:
        reader.close()
        await store.close()


async def test_a_tenant_s_parts_are_read_from_its_own_tables(db_path: str) -> None:
    payload = os.urandom(5000)
    store = SQLiteStore(db_path, tenant_id="team-a")
    await store.open()
    try:
        await store.add(build(Spec(bodies=[attachment(payload)])))
        info = await store.direct_read()
        assert info is not None
        sha = hashlib.sha256(payload).hexdigest()
        other = DirectReader(db_path, "")  # the default tenant's tables do not have it
        with pytest.raises(StorageError):
            other.locate(sha)  # its tables were never created in this file
        other.close()
        reader = DirectReader(info["path"], info["prefix"])
        found = reader.locate(sha)
        assert found is not None and b"".join(reader.pieces(found[1])) == payload
        reader.close()
    finally:
        await store.close()


async def test_a_message_deleted_before_or_while_reading_is_an_error(store: SQLiteStore, db_path: str) -> None:
    payload = os.urandom(3 * BLOCK_SIZE)
    id_ = await store.add(build(Spec(bodies=[attachment(payload)])))
    reader = DirectReader(db_path, "")
    try:
        found = reader.locate(hashlib.sha256(payload).hexdigest())
        assert found is not None
        pieces = reader.pieces(found[1])
        first = next(pieces)
        assert payload.startswith(first)
        await store.delete([id_])
        with pytest.raises(StorageError, match="deleted"):
            for _ in pieces:
                pass
        with pytest.raises(StorageError, match="deleted"):
            b"".join(reader.pieces(found[1]))
        assert reader.locate(hashlib.sha256(payload).hexdigest()) is None
    finally:
        reader.close()


async def test_the_description_names_this_file_and_only_this_file(store: SQLiteStore, tmp_path: Path) -> None:
    info = await store.direct_read()
    assert info is not None and info["engine"] == "sqlite" and info["prefix"] == ""
    assert os.path.isabs(info["path"]) and same_file(info)
    assert not same_file({**info, "inode": info["inode"] + 1})  # a namesake (another container, a new file)
    assert not same_file({**info, "engine": "postgres"})
    assert not same_file({**info, "path": str(tmp_path / "missing.db")})
    assert not same_file({"engine": "sqlite"})
    assert describe(info["path"], "p_")["prefix"] == "p_"


async def test_a_reader_never_blocks_the_writer_or_the_checkpoint(store: SQLiteStore, db_path: str) -> None:
    """Between calls a direct reader holds no transaction: the WAL can still be emptied."""
    import sqlite3

    payload = os.urandom(BLOCK_SIZE)
    await store.add(build(Spec(bodies=[attachment(payload)])))
    reader = DirectReader(db_path, "")
    try:
        found = reader.locate(hashlib.sha256(payload).hexdigest())
        assert found is not None
        reader.head(found[1], 100)
        await store.add(build(Spec(bodies=[attachment(os.urandom(1000))])))
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        assert busy == 0
        assert os.path.getsize(db_path + "-wal") == 0
    finally:
        reader.close()


@pytest.mark.parametrize("level", [0, 1])
async def test_lazy_ranges_start_early_and_equal_the_eager_ones(db_path: str, level: int) -> None:
    from contextlib import contextmanager

    from mailcapture.storage.sqlite import stream
    from mailcapture.storage.sqlite.connections import open_reader
    from mailcapture.storage.sqlite.reads import MessageLocation
    from mailcapture.storage.sqlite.schema import Tables

    payload = os.urandom(3 * BLOCK_SIZE)
    store = SQLiteStore(db_path, compression=level)
    await store.open()
    conn = open_reader(db_path)
    try:
        await store.add(build(Spec(bodies=[attachment(payload)])))
        pk, size = conn.execute("SELECT pk, size FROM messages").fetchone()

        @contextmanager
        def borrow():  # type: ignore[no-untyped-def]
            yield conn

        message = MessageLocation(pk, size, BLOCK_SIZE)
        for start, end in ((0, size), (1000, 2 * BLOCK_SIZE + 5), (BLOCK_SIZE - 10, BLOCK_SIZE + 10)):
            eager = list(stream.encoded_range(borrow, Tables(""), message, start, end))
            lazy = list(stream.encoded_range(borrow, Tables(""), message, start, end, lazy=True))
            early = list(stream.encoded_range(borrow, Tables(""), message, start, end, lazy=True, early=True))
            assert b"".join(bytes(p) for p in lazy) == b"".join(bytes(p) for p in eager)
            assert b"".join(bytes(p) for p in early) == b"".join(bytes(p) for p in eager)
            assert len(early[0]) <= stream.FIRST_LAZY_PIECE
            assert all(len(p) <= stream.PIECE for p in lazy + early)
    finally:
        conn.close()
        await store.close()


@pytest.mark.parametrize("level", [0, 1])
async def test_a_damaged_block_is_an_error_for_a_direct_reader(db_path: str, level: int) -> None:
    import sqlite3

    payload = os.urandom(3 * BLOCK_SIZE)
    store = SQLiteStore(db_path, compression=level)
    await store.open()
    try:
        await store.add(build(Spec(bodies=[attachment(payload)])))
        conn = sqlite3.connect(db_path, isolation_level=None)
        conn.execute("UPDATE raw_blocks SET data = substr(data, 1, 100) WHERE seq = 2")  # a later block
        conn.close()
        reader = DirectReader(db_path, "")
        found = reader.locate(hashlib.sha256(payload).hexdigest())
        assert found is not None
        with pytest.raises(StorageError, match="wrong length" if level == 0 else "corrupt|wrong length"):
            b"".join(reader.pieces(found[1]))
        reader.close()
    finally:
        await store.close()
