"""WAL checkpoints off the write path: a thread with its own connection copies the WAL into the database.

SQLite's automatic checkpoint runs inside the COMMIT that crosses ``wal_autocheckpoint`` pages, so
the writer (and the SMTP client waiting for its 250) pays for copying every page a second time.
The write connection turns it off (``wal_autocheckpoint = 0``) and pokes this thread after each
commit; the thread runs ``PRAGMA wal_checkpoint(PASSIVE)``, which never waits for the writer or the
readers, at most every :data:`MIN_INTERVAL_S` (commits in between are copied together). Once a
checkpoint has copied everything, the writer's next transaction starts the WAL over from its
beginning, so the file stays near the size of what arrives between two checkpoints. After
:data:`IDLE_S` without a commit a ``TRUNCATE`` checkpoint empties the WAL file, so between bursts the
data directory holds each byte once. (A ``TRUNCATE`` right after each checkpoint was tried: it holds
the write lock while it waits, and under a steady stream of big mail it delayed commits by up to
200 ms and kept failing, so the WAL grew.)
``journal_size_limit`` trims it after bursts; past :data:`HARD_LIMIT_BYTES` the writer checkpoints
inline (``Writer``), so the WAL is bounded even when this thread cannot keep up.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

IDLE_S = 1.0  # after this long without a commit the WAL file is truncated to zero
MIN_INTERVAL_S = 0.05  # checkpoints at most this often; commits in between are copied together
HARD_LIMIT_BYTES = 512 * 1024 * 1024  # past this WAL size the writer checkpoints itself
CHECKPOINT_BUSY_MS = 50  # a checkpoint never waits long for a lock: the next poke tries again


def wal_bytes(path: str) -> int:
    try:
        return os.stat(path + "-wal").st_size
    except FileNotFoundError:
        return 0


class Checkpointer:
    """One daemon thread; ``poke()`` is cheap and safe from any thread."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], path: str,
                 min_interval: float = MIN_INTERVAL_S) -> None:
        self._connect = connect
        self._path = path
        self._min_interval = min_interval
        self._wake = threading.Condition()
        self._dirty = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # completed checkpoint runs (tests and diagnostics)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        with self._wake:
            self._dirty = True
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            conn = self._connect()
            conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_BUSY_MS}")
        except Exception:  # the writer still checkpoints past the hard limit
            log.exception("the checkpoint thread cannot open the database; the writer checkpoints instead")
            return
        last = 0.0
        truncated = True  # the WAL file is empty (nothing committed since the last TRUNCATE)
        try:
            while True:
                with self._wake:
                    if not self._dirty and not self._stop:
                        self._wake.wait(None if truncated else IDLE_S)
                    if self._stop:
                        return
                    idle, self._dirty = not self._dirty, False
                if idle:  # no commit for IDLE_S: empty the WAL file (the writer is not busy now)
                    checkpoint(conn, self._path, "TRUNCATE")
                    truncated = True
                    continue
                wait = last + self._min_interval - time.monotonic()
                if wait > 0:  # a plain thread, never an event loop: sleeping here blocks nobody
                    time.sleep(wait)
                with self._wake:
                    self._dirty = False
                checkpoint(conn, self._path)
                truncated = False
                self.checkpoints += 1
                last = time.monotonic()
        finally:
            conn.close()


def checkpoint(conn: sqlite3.Connection, path: str, mode: str = "PASSIVE") -> None:
    """One checkpoint; a lock held elsewhere only means the next one does the work.

    ``PASSIVE`` copies what it can without waiting for anyone; ``TRUNCATE`` (run only when idle)
    also empties the WAL file, waiting at most ``CHECKPOINT_BUSY_MS`` for a writer or reader.
    """
    try:
        conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
    except sqlite3.Error as exc:
        log.debug("checkpoint of %s skipped: %s", path, exc)
