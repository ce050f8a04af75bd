"""WAL checkpoints run in their own thread, never inside the writer's commits, and the WAL stays bounded."""

from __future__ import annotations

import asyncio
import os

import pytest

from mailcapture.storage.sqlite import SQLiteStore, checkpoint

from .builders import Spec, attachment, build


def _message(n: int, size: int = 300_000) -> object:
    return build(Spec(message_id=f"{n}@x", bodies=[attachment(os.urandom(size))]))


async def _wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


async def test_the_writer_never_checkpoints_inside_its_commits(store: SQLiteStore) -> None:
    assert await store._write(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == 0


async def test_the_checkpoint_thread_copies_commits_into_the_database(store: SQLiteStore, db_path: str) -> None:
    assert store._checkpointer is not None
    before = store._checkpointer.checkpoints
    for n in range(5):
        await store.add(_message(n))  # type: ignore[arg-type]
    assert await _wait_for(lambda: store._checkpointer is not None and store._checkpointer.checkpoints > before)
    # the database file itself (not only the WAL) holds the messages' blocks
    assert await _wait_for(lambda: os.stat(db_path).st_size > 5 * 300_000)


async def test_without_the_thread_the_writer_keeps_the_wal_bounded(db_path: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "HARD_LIMIT_BYTES", 1_000_000)
    store = SQLiteStore(db_path, compression=0)
    await store.open()
    try:
        assert store._checkpointer is not None
        await asyncio.to_thread(store._checkpointer.stop)  # as if the thread were stuck
        store._checkpointer = None
        sizes = []
        for n in range(12):
            await store.add(_message(n, 500_000))  # type: ignore[arg-type]
            sizes.append(checkpoint.wal_bytes(db_path))
    finally:
        await store.close()
    # 12 messages of ~680 kB went through; without checkpoints the WAL would hold all of them (> 8 MB)
    assert max(sizes) < 4_000_000, sizes


async def test_a_store_without_wal_has_no_checkpoint_thread(db_path: str) -> None:
    store = SQLiteStore(db_path, wal=False)
    await store.open()
    try:
        assert store._checkpointer is None
        await store.add(_message(1))  # type: ignore[arg-type]
    finally:
        await store.close()
    assert not os.path.exists(db_path + "-wal")


async def test_an_idle_store_empties_its_wal_file(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "IDLE_S", 0.2)
    store = SQLiteStore(db_path, compression=0)
    await store.open()
    try:
        for n in range(3):
            await store.add(_message(n))  # type: ignore[arg-type]
        assert checkpoint.wal_bytes(db_path) > 0
        assert await _wait_for(lambda: checkpoint.wal_bytes(db_path) == 0, timeout=5)
        await store.add(_message(9))  # and it keeps working afterwards
        assert (await store.page(None, 0, 10)).total == 4
    finally:
        await store.close()


def test_small_commits_wait_for_enough_bytes_or_for_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit check of the pacing (no database work): which checkpoint the thread would run next."""
    monkeypatch.setattr(checkpoint, "IDLE_S", 0.3)
    cp = checkpoint.Checkpointer(lambda: None, "unused", every_bytes=1_000_000)  # type: ignore[arg-type,return-value]
    import threading
    import time

    def next_mode(timeout: float) -> str | None:
        result: list[str | None] = []
        def run() -> None:
            with cp._wake:
                result.append(cp._next_mode())

        t = threading.Thread(target=run)
        t.start()
        t.join(timeout)
        if t.is_alive():
            cp.stop()
            t.join()
            return "still waiting"
        return result[0]

    cp.poke(10_000)  # small: not due yet; idle only after IDLE_S without commits
    started = time.monotonic()
    assert next_mode(2) == "TRUNCATE" and time.monotonic() - started >= 0.25
    cp.poke(2_000_000)
    assert next_mode(0.2) == "PASSIVE"


async def test_a_big_commit_releases_free_heap_memory(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mailcapture.storage.sqlite import store as store_module

    released: list[int] = []
    monkeypatch.setattr(store_module, "release_free_memory", lambda: released.append(1) or True)
    monkeypatch.setattr(store_module, "RELEASE_MEMORY_AFTER_BYTES", 1_000_000)
    store = SQLiteStore(db_path, compression=0, decode_parts=False)  # only the adds' commits
    await store.open()
    try:
        await store.add(_message(1, 100_000))  # type: ignore[arg-type]
        assert released == []
        await store.add(_message(2, 1_000_000))  # type: ignore[arg-type]
        assert await _wait_for(lambda: released == [1])  # after the commit, in the writer thread
    finally:
        await store.close()
