"""The one writer: a dedicated thread owns the write connection and runs queued jobs in order.

Async callers wait for a free slot of the bounded queue (an asyncio semaphore, so the event loop
never blocks), enqueue a callable and await a future the thread resolves with
``loop.call_soon_threadsafe``. Each job runs in its own ``BEGIN IMMEDIATE`` transaction: it
commits when the callable returns and rolls back (and raises ``StorageError``) when it raises.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mailcapture.errors import MailcaptureError, StorageError

log = logging.getLogger(__name__)

WRITE_QUEUE_SIZE = 64
T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Item:
    fn: Job
    transaction: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    size_hint: int = 0  # about how many bytes the job writes (passed to after_commit)


def as_storage_error(exc: Exception, what: str) -> MailcaptureError:
    if isinstance(exc, MailcaptureError):
        return exc
    return StorageError(f"{what}: {exc}")


class Writer:
    def __init__(self, connect: Callable[[], sqlite3.Connection], queue_size: int = WRITE_QUEUE_SIZE,
                 after_commit: Callable[[sqlite3.Connection, int], None] | None = None) -> None:
        self._connect = connect
        self._after_commit = after_commit
        self._queue_size = queue_size
        # one extra place for the stop sentinel
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=queue_size + 1)
        self._slots: asyncio.Semaphore | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self._queue_size)
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def submit(self, fn: Callable[[sqlite3.Connection], T], *, transaction: bool = True,
                     size_hint: int = 0) -> T:
        if self._closed or self._slots is None:
            raise StorageError("the store is not open")
        await self._slots.acquire()
        if self._closed:
            self._slots.release()
            raise StorageError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # never blocks: the semaphore keeps at most queue_size items queued or running
        self._queue.put_nowait(_Item(fn, transaction, loop, future, size_hint))
        return await future

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        assert self._thread is not None
        self._queue.put(None)
        self._thread.join()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        open_error: Exception | None = None
        try:
            conn = self._connect()
        except Exception as exc:  # reported to every job: the store cannot write
            open_error = exc
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                if conn is None:
                    self._finish(item, StorageError(f"cannot open the database: {open_error}"), None)
                    continue
                try:
                    result = self._execute(conn, item)
                except Exception as exc:
                    self._finish(item, as_storage_error(exc, "database write failed"), None)
                else:
                    self._finish(item, None, result)
                    if self._after_commit is not None:
                        self._housekeep(conn, item.size_hint)
        finally:
            if conn is not None:
                conn.close()

    def _housekeep(self, conn: sqlite3.Connection, size_hint: int) -> None:
        """After a job (its caller already answered): never lets a failure reach the next job."""
        assert self._after_commit is not None
        try:
            self._after_commit(conn, size_hint)
        except Exception:
            log.exception("after-commit housekeeping failed")

    @staticmethod
    def _execute(conn: sqlite3.Connection, item: _Item) -> Any:
        if not item.transaction:
            return item.fn(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = item.fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback failed")
            raise
        return result

    def _finish(self, item: _Item, error: Exception | None, result: Any) -> None:
        slots = self._slots

        def resolve() -> None:
            if slots is not None:
                slots.release()
            if item.future.cancelled():
                return
            if error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(result)

        try:
            item.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
            pass
