"""WAL checkpoints off the write path: a thread with its own connection copies the WAL into the database.

SQLite's automatic checkpoint runs inside the COMMIT that crosses ``wal_autocheckpoint`` pages, so
the writer (and the SMTP client waiting for its 250) pays for copying every page a second time.
The write connection turns it off (``wal_autocheckpoint = 0``) and pokes this thread after each
commit with about how many bytes it wrote; once :data:`CHECKPOINT_BYTES` have come in, the thread
runs ``PRAGMA wal_checkpoint(PASSIVE)``, which never waits for the writer or the readers, at most
every :data:`MIN_INTERVAL_S` (commits in between are copied together). Once a
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

# Checkpoint once about this much was committed (SQLite's own default is 1,000 pages, 4 MiB); smaller
# commits are left for the idle checkpoint: a checkpoint every 50 ms cost small mail ~15 % of its rate.
CHECKPOINT_BYTES = 4 * 1024 * 1024
COMMIT_BYTES = 32 * 1024  # what any commit adds to the WAL at least (a few index and table pages)
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
                 min_interval: float = MIN_INTERVAL_S, every_bytes: int = CHECKPOINT_BYTES) -> None:
        self._connect = connect
        self._path = path
        self._min_interval = min_interval
        self._wake = threading.Condition()
        self._every = every_bytes
        self._dirty = False  # committed since the last checkpoint
        self._pending = 0  # about how many bytes were committed since the last checkpoint
        self._last_poke = 0.0
        self._stop = False
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # completed checkpoint runs (tests and diagnostics)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def poke(self, size_hint: int = 0) -> None:
        """A commit of about ``size_hint`` bytes (each commit also counts ``COMMIT_BYTES``)."""
        with self._wake:
            self._dirty = True
            self._last_poke = time.monotonic()
            self._pending += size_hint + COMMIT_BYTES
            if self._pending >= self._every:
                self._wake.notify()

    def _next_mode(self) -> str | None:
        """Wait (holding ``_wake``) for work: ``PASSIVE`` once enough came in, ``TRUNCATE`` after
        ``IDLE_S`` without any commit (copy the rest and empty the WAL file), None to stop."""
        while not self._stop:
            if self._pending >= self._every:
                return "PASSIVE"
            if not self._dirty:
                self._wake.wait()
                continue
            quiet = time.monotonic() - self._last_poke
            if quiet >= IDLE_S:
                return "TRUNCATE"
            self._wake.wait(IDLE_S - quiet)
        return None

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
        try:
            while True:
                with self._wake:
                    mode = self._next_mode()
                    if mode is None:
                        return
                    self._pending = 0
                    if mode == "TRUNCATE":  # after a PASSIVE one, the idle TRUNCATE is still to come
                        self._dirty = False
                if mode == "PASSIVE":
                    wait = last + self._min_interval - time.monotonic()
                    if wait > 0:  # coalesce commits; a stop() ends the wait at once
                        with self._wake:
                            if self._wake.wait_for(lambda: self._stop, timeout=wait):
                                return
                checkpoint(conn, self._path, mode)
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
