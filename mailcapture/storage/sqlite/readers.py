"""A small pool of read-only connections used from worker threads (never on the event loop)."""

from __future__ import annotations

import asyncio
import queue
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from mailcapture.errors import MailcaptureError, StorageError

READERS = 4
READ_WAITERS = 256  # reads queued beyond this wait on the event loop, not in the executor
BORROW_TIMEOUT_S = 30.0
T = TypeVar("T")


class ReaderPool:
    def __init__(self, connect: Callable[[], sqlite3.Connection], size: int = READERS) -> None:
        self._connect = connect
        self._size = size
        self._idle: queue.Queue[sqlite3.Connection] = queue.Queue(maxsize=size)
        self._all: list[sqlite3.Connection] = []
        self._executor: ThreadPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self._open_all)
        self._executor = ThreadPoolExecutor(self._size, thread_name_prefix="sqlite-reader")
        self._slots = asyncio.Semaphore(READ_WAITERS)

    def _open_all(self) -> None:
        try:
            for _ in range(self._size):
                conn = self._connect()
                self._all.append(conn)
                self._idle.put_nowait(conn)
        except Exception as exc:
            self._close_all()
            raise StorageError(f"cannot open the database for reading: {exc}") from exc

    def _close_all(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True)
        await asyncio.to_thread(self._close_all)

    @contextmanager
    def borrow(self) -> Iterator[sqlite3.Connection]:
        """A connection for one thread's use (each worker thread borrows at most one at a time)."""
        try:
            conn = self._idle.get(timeout=BORROW_TIMEOUT_S)
        except queue.Empty:
            raise StorageError("no database connection free for reading") from None
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a reader thread (it may borrow a connection itself)."""
        if self._executor is None or self._slots is None:
            raise StorageError("the store is not open")
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._guard, fn, *args)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one read transaction (a consistent snapshot)."""
        return await self.call(self._in_snapshot, fn)

    def _in_snapshot(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self.borrow() as conn:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")

    @staticmethod
    def _guard(fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except MailcaptureError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"database read failed: {exc}") from exc
