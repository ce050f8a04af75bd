"""Opening the write connection and the read-only connections, with the pragmas each needs."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
JOURNAL_SIZE_LIMIT = 8 * 1024 * 1024  # WAL file truncated back to this after a checkpoint
READER_CACHE_KIB = 4 * 1024  # page cache per read connection (big blobs stream through the OS cache)


def _common(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")


def open_writer(path: str, wal: bool) -> sqlite3.Connection:
    """The one connection that writes. Autocommit mode: the writer issues BEGIN IMMEDIATE itself."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        _common(conn)
        # only takes effect on a new, empty database file; lets vacuum() give freed pages back.
        # SQLite's 4 KiB pages stay: 64 KiB pages made a 37.5 MB commit faster, but every small mail
        # then writes ~10 whole 64 KiB pages to the WAL (small mails/s fell from ~490 to ~330).
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        wanted = "wal" if wal else "delete"
        mode = conn.execute(f"PRAGMA journal_mode = {wanted.upper()}").fetchone()[0]
        if str(mode).lower() != wanted:
            log.warning("SQLite journal_mode is %s, not %s, for %s", mode, wanted, path)
        conn.execute(f"PRAGMA synchronous = {'NORMAL' if wal else 'FULL'}")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        if wal:  # checkpoints run in their own thread (checkpoint.py), not inside this writer's commits
            conn.execute("PRAGMA wal_autocheckpoint = 0")
    except BaseException:
        conn.close()
        raise
    return conn


def open_checkpointer(path: str) -> sqlite3.Connection:
    """The checkpoint thread's connection: read-write (a checkpoint writes the database file)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        _common(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: str, cache_kib: int = READER_CACHE_KIB) -> sqlite3.Connection:
    """A read-only connection (WAL lets it read while the writer writes)."""
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        _common(conn)
        conn.execute("PRAGMA query_only = ON")
        conn.execute(f"PRAGMA cache_size = -{cache_kib}")
    except BaseException:
        conn.close()
        raise
    return conn
