from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from mailcapture.storage.sqlite import SQLiteStore


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "mail.db")


@pytest.fixture
async def store(db_path: str) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(db_path, compression=1)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def inspect_db(db_path: str) -> Iterator[Callable[[str, tuple[object, ...]], list[tuple[object, ...]]]]:
    """Query the database file directly with a separate connection (to check what is really stored)."""
    conns: list[sqlite3.Connection] = []

    def query(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        if not conns:
            conns.append(sqlite3.connect(db_path, isolation_level=None))
        return conns[0].execute(sql, params).fetchall()

    yield query
    for conn in conns:
        conn.close()
