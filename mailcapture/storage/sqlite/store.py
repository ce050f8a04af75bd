"""The embedded SQLite engine of the :class:`~mailcapture.storage.base.Store` contract.

One writer thread owns the write connection (``writer.py``); reads run on a small pool of
read-only connections in threads (``readers.py``); nothing touches SQLite on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from mailcapture.errors import BadRequest, StorageError
from mailcapture.memory import release_free_memory
from mailcapture.search import Query
from mailcapture.storage.base import Intake, MessageDetail, NewMessage, Page, PartRecord, Stats, Store
from mailcapture.storage.sqlite import blocks, checkpoint, checksums, compaction, decoded, direct, reads, stream, writes
from mailcapture.storage.sqlite.connections import open_checkpointer, open_reader, open_writer
from mailcapture.storage.sqlite.intake import BlockIntake
from mailcapture.storage.sqlite.prepare import prepare
from mailcapture.storage.sqlite.readers import READERS, ReaderPool
from mailcapture.storage.sqlite.schema import Tables, migrate, table_prefix
from mailcapture.storage.sqlite.sqlquery import MATCH_ALL, compile_query
from mailcapture.storage.sqlite.writer import Writer

log = logging.getLogger(__name__)

COMPRESS_THREADS = max(1, min(4, os.cpu_count() or 1))
VACUUM_CHECKPOINT_TRIES = 100
# Blobs whose encoded body is at most one streaming piece are decoded whole in the lookup's reader call:
# the answer is the same single piece the stream would give, one thread hop instead of three.
SMALL_BLOB_BYTES = stream.PIECE
RELEASE_MEMORY_AFTER_BYTES = 8 * 1024 * 1024  # a commit this big is followed by malloc_trim
PREPARING_AT_ONCE = 8  # messages being compressed at the same time (bounds memory)
COMPACT_BACKLOG = 256  # messages waiting for compaction; beyond, a sweep finds them later
# Compaction waits for this long without a new message: it takes CPU from nothing while mail pours in
# (a 37.5 MB message costs ~0.1 s to compact; ingest runs on both cores).
COMPACT_QUIET_S = 0.5
_SWEEP = ""  # in the compaction queue: look for messages with parts never looked at
T = TypeVar("T")


class SQLiteStore(Store):
    def __init__(self, path: str, *, compression: int = 1, wal: bool = True, tenant_id: str = "",
                 readers: int = READERS, block_size: int = blocks.BLOCK_SIZE, decode_parts: bool = True) -> None:
        if not path or path == ":memory:" or path.startswith("file:"):
            raise ValueError("SQLiteStore needs a database file path (several connections share it)")
        if not 0 <= compression <= blocks.MAX_LEVEL:
            raise ValueError(f"compression must be 0 (off) to {blocks.MAX_LEVEL}, got {compression}")
        if block_size <= 0:
            raise ValueError(f"block_size must be positive, got {block_size}")
        self.path = path
        self.compression = compression
        self.wal = wal
        self.tables = Tables(table_prefix(tenant_id))
        self._block_size = block_size
        self._reader_count = readers
        self._writer = Writer(partial(open_writer, path, wal))
        self._readers = ReaderPool(partial(open_reader, path), readers)
        self._checkpointer: checkpoint.Checkpointer | None = None
        self._cleanups: set[asyncio.Future[int]] = set()  # bounded by the intakes aborted at once
        self._compress_pool: ThreadPoolExecutor | None = None
        self._preparing: asyncio.Semaphore | None = None
        self.decode_parts = decode_parts  # keep big base64 parts decoded (decoded.py, compaction.py)
        self._compact_queue: asyncio.Queue[str] | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._compact_pool: ThreadPoolExecutor | None = None
        self._last_stored = 0.0  # event loop time of the last message committed
        self._compact_missed = False  # a message found the backlog full: sweep once it is empty
        self._open = False

    # ---------------------------------------------------------------- life cycle

    async def open(self) -> None:
        if self._open:
            return
        try:
            await asyncio.to_thread(Path(self.path).absolute().parent.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the directory of {self.path}: {exc}") from exc
        # fresh workers on every open, so a closed store can be opened again
        self._checkpointer = (checkpoint.Checkpointer(partial(open_checkpointer, self.path), self.path)
                              if self.wal else None)
        self._writer = Writer(partial(open_writer, self.path, self.wal),
                              after_commit=self._after_commit)
        self._readers = ReaderPool(partial(open_reader, self.path), self._reader_count)
        await self._writer.start()
        try:
            await self._writer.submit(lambda conn: migrate(conn, self.tables))
            orphans = await self._writer.submit(lambda conn: writes.delete_orphan_blocks(conn, self.tables))
            if orphans:
                log.info("deleted %d raw block(s) of messages that never completed", orphans)
            chunks = await self._writer.submit(lambda conn: compaction.delete_orphan_chunks(conn, self.tables))
            if chunks:
                log.info("deleted %d decoded chunk(s) of messages that are gone", chunks)
            await self._readers.start()
        except BaseException:
            await self._writer.close()
            raise
        if self._checkpointer is not None:
            self._checkpointer.start()
        self._compress_pool = ThreadPoolExecutor(COMPRESS_THREADS, thread_name_prefix="sqlite-compress")
        self._preparing = asyncio.Semaphore(PREPARING_AT_ONCE)
        self._open = True
        if self.decode_parts:
            self._compact_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-compact")
            self._compact_queue = asyncio.Queue(COMPACT_BACKLOG)
            self._compact_queue.put_nowait(_SWEEP)  # messages stored before, or missed when stopped
            self._compactor = asyncio.ensure_future(self._compact_loop())

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._compactor is not None:
            self._compactor.cancel()
            await asyncio.gather(self._compactor, return_exceptions=True)
            self._compactor = self._compact_queue = None
        if self._compact_pool is not None:
            await asyncio.to_thread(self._compact_pool.shutdown, True)
            self._compact_pool = None
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        # readers and the checkpoint thread first: the writer's connection, closed last, checkpoints
        # and removes the WAL file
        await self._readers.close()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        await self._writer.close()
        if self._compress_pool is not None:
            await asyncio.to_thread(self._compress_pool.shutdown, True)
            self._compress_pool = None

    async def vacuum(self) -> None:
        """Give freed pages back to the file system and truncate the WAL (maintenance, optional)."""
        self._check_open()
        await self._writer.submit(_vacuum, transaction=False)

    def _after_commit(self, conn: sqlite3.Connection, size_hint: int) -> None:
        """In the writer thread after each job: hand the WAL to the checkpoint thread, or checkpoint
        here when it has grown past the hard limit (the thread is stuck or cannot keep up); after a
        big message, give the heap pages its buffers used back (see ``mailcapture.memory``)."""
        if size_hint >= RELEASE_MEMORY_AFTER_BYTES:
            release_free_memory()
        if checkpoint.wal_bytes(self.path) > checkpoint.HARD_LIMIT_BYTES:
            checkpoint.checkpoint(conn, self.path)
        elif self._checkpointer is not None:
            self._checkpointer.poke(size_hint)

    def _check_open(self) -> None:
        if not self._open:
            raise StorageError("the store is not open")

    async def _write(self, fn: Callable[[sqlite3.Connection], T], size_hint: int = 0) -> T:
        """Run ``fn`` in the writer; ``size_hint``: about how many bytes it writes (paces checkpoints)."""
        self._check_open()
        return await self._writer.submit(fn, size_hint=size_hint)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        return await self._readers.run(fn)

    # ---------------------------------------------------------------- writing

    async def add(self, message: NewMessage) -> str:
        self._check_open()
        assert self._preparing is not None and self._compress_pool is not None
        async with self._preparing:
            prepared = await prepare(message, self.compression, self._compress_pool, self._block_size)
        id_ = await self._write(partial(writes.insert_message, t=self.tables, p=prepared), len(prepared.message.raw))
        self._stored(id_, message)
        return id_

    def intake(self) -> Intake:
        """Compresses each block as soon as it has arrived (see ``intake.py``)."""
        self._check_open()
        assert self._compress_pool is not None
        return BlockIntake(self._write, self._cleanup_blocks, self.tables, self.compression,
                           self._compress_pool, self._block_size, self._stored)

    # ---------------------------------------------------------------- compaction (decoded.py)

    def _stored(self, id_: str, message: NewMessage) -> None:
        """A message was committed: queue it for compaction when it has big base64 parts."""
        self._last_stored = asyncio.get_running_loop().time()
        queue = self._compact_queue
        if queue is None or not any(p.data is None and p.record.size >= decoded.MIN_PART
                                    and p.encoding.strip().lower() == "base64" for p in message.parts):
            return
        try:
            queue.put_nowait(id_)
        except asyncio.QueueFull:
            self._compact_missed = True  # the sweep queued when the backlog empties finds it

    async def settle(self) -> None:
        """Wait until every message queued for compaction is done (tests, benchmarks)."""
        if self._compact_queue is not None:
            await self._compact_queue.join()

    async def _compact_loop(self) -> None:
        queue = self._compact_queue
        assert queue is not None
        while True:
            id_ = await queue.get()
            try:
                if id_ == _SWEEP:
                    found = await self._read(partial(compaction.waiting, t=self.tables))
                    progress = [await self._compact_logged(waiting_id) for waiting_id in found]
                    if len(found) == compaction.SWEEP_BATCH and any(progress) and not queue.full():
                        queue.put_nowait(_SWEEP)  # more may wait (a batch that only failed is not retried)
                else:
                    await self._compact_logged(id_)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("looking for messages to keep decoded failed: %s", exc)
            finally:
                if self._compact_missed and queue.empty():  # before task_done: settle() waits for it too
                    self._compact_missed = False
                    queue.put_nowait(_SWEEP)
                queue.task_done()

    async def _compact_logged(self, id_: str) -> bool:
        try:
            await self._compact(id_)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the message stays as it is: still correct, read the slower way
            log.warning("keeping the parts of message %s decoded failed: %s", id_, exc)
            try:  # not tried again by every sweep
                await self._write(partial(compaction.give_up, t=self.tables, id_=id_))
            except Exception as again:
                log.warning("marking the parts of message %s as left encoded failed: %s", id_, again)
            return False

    async def _quiet(self) -> None:
        """Until no message has been committed for COMPACT_QUIET_S."""
        loop = asyncio.get_running_loop()
        while (left := self._last_stored + COMPACT_QUIET_S - loop.time()) > 0:
            await asyncio.sleep(left)

    async def _compact(self, id_: str) -> None:
        await self._quiet()  # also between the messages a sweep found
        plan = await self._read(partial(compaction.plan, t=self.tables, id_=id_))
        if plan is None:
            return
        loop = asyncio.get_running_loop()
        pk = plan.message.pk

        def write(batch: compaction.Batch) -> bool:
            """From the compaction thread: one batch, committed before it returns."""
            job = partial(compaction.write_batch, t=self.tables, pk=pk, batch=batch)
            size = sum(len(p) for _, p in batch[0]) + sum(len(c[3]) for c in batch[1])
            return asyncio.run_coroutine_threadsafe(self._write(job, size), loop).result()

        done: list[tuple[compaction.Candidate, decoded.Layout]] = []
        irregular: list[str] = []
        borrow = self._readers.borrow
        try:
            for cand in plan.candidates:
                layout = await loop.run_in_executor(self._compact_pool, compaction.verify_part, borrow, self.tables,
                                                    plan.message, cand)
                if layout is None:
                    irregular.append(cand.part_id)
                else:
                    done.append((cand, layout))
            if done:
                await loop.run_in_executor(self._compact_pool, compaction.convert, borrow, self.tables, plan.message,
                                           done, self.compression, write)
        except compaction.Gone:
            return
        await self._write(partial(compaction.finish, t=self.tables, pk=pk, decoded_parts=[c.part_id for c, _ in done],
                                  irregular=irregular))

    def _cleanup_blocks(self, pk: Callable[[], int | None]) -> None:
        """Delete the committed blocks of an aborted intake (a writer job; nothing waits for it)."""
        if not self._open:
            return  # the next open deletes them

        def job(conn: sqlite3.Connection) -> int:
            found = pk()
            return 0 if found is None else writes.delete_blocks_of(conn, self.tables, found)

        task = asyncio.ensure_future(self._write(job))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanup_done)

    def _cleanup_done(self, task: asyncio.Future[int]) -> None:
        self._cleanups.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("deleting the blocks of an aborted message failed: %s", task.exception())

    async def mark_read(self, ids: list[str] | None, query: Query | None, read: bool) -> list[str]:
        if ids is not None:
            where, params = writes.ids_condition(ids)
        else:
            where, params = compile_query(query, self.tables)
        return await self._write(partial(writes.mark_read, t=self.tables, where=where, params=params, read=read))

    async def delete(self, ids: list[str] | None) -> list[str]:
        where, params = (MATCH_ALL, []) if ids is None else writes.ids_condition(ids)
        return await self._write(partial(writes.delete_where, t=self.tables, where=where, params=params))

    async def delete_matching(self, query: Query) -> list[str]:
        where, params = compile_query(query, self.tables)
        return await self._write(partial(writes.delete_where, t=self.tables, where=where, params=params))

    async def set_tags(self, ids: list[str], tags: list[str]) -> None:
        await self._write(partial(writes.set_tags, t=self.tables, ids=ids, tags=tags))

    async def rename_tag(self, old: str, new: str) -> bool:
        return await self._write(partial(writes.rename_tag, t=self.tables, old=old, new=new))

    async def delete_tag(self, name: str) -> bool:
        return await self._write(partial(writes.delete_tag, t=self.tables, name=name))

    async def prune(self, max_messages: int, max_age_seconds: float) -> list[str]:
        """Deletes in batches of ``writes.PRUNE_BATCH``, each its own short transaction."""
        if max_messages < 0 or max_age_seconds < 0:
            raise BadRequest("prune limits cannot be negative")
        if max_messages == 0 and max_age_seconds == 0:
            return []
        cutoff = to_micros_now() - int(max_age_seconds * 1_000_000) if max_age_seconds > 0 else None
        deleted: list[str] = []
        while True:
            batch = await self._write(partial(writes.prune_batch, t=self.tables, max_messages=max_messages,
                                              cutoff=cutoff))
            if not batch:
                return deleted
            deleted.extend(batch)

    # ---------------------------------------------------------------- reading

    async def page(self, query: Query | None, start: int, limit: int) -> Page:
        if start < 0 or limit < 0:
            raise BadRequest("start and limit cannot be negative")
        where, params = compile_query(query, self.tables)
        return await self._read(partial(reads.page, t=self.tables, where=where, params=params,
                                        start=start, limit=limit))

    async def detail(self, id: str) -> MessageDetail | None:
        found = await self._read(partial(reads.detail, t=self.tables, id_=id))
        if found is not None and checksums.missing(found):
            # big parts get MD5/SHA-1 on first read (see checksums.py), saved so it happens once
            computed = await self._read(partial(checksums.fill_missing, t=self.tables, id_=id, detail=found))
            if computed:
                await self._write(partial(checksums.save, t=self.tables, id_=id, computed=computed))
        return found

    async def latest_id(self, query: Query | None) -> str | None:
        where, params = compile_query(query, self.tables)
        return await self._read(partial(reads.latest_id, t=self.tables, where=where, params=params))

    async def raw(self, id: str) -> bytes | None:
        return await self._read(partial(self._raw_range, id_=id, start=0, end=None))

    async def raw_range(self, id: str, start: int, end: int) -> bytes | None:
        return await self._read(partial(self._raw_range, id_=id, start=start, end=end))

    def _raw_range(self, conn: sqlite3.Connection, id_: str, start: int, end: int | None) -> bytes | None:
        loc = reads.message_location(conn, self.tables, id_)
        if loc is None:
            return None
        stop = loc.size if end is None else min(max(end, 0), loc.size)
        return blocks.read_range(conn, self.tables, loc.pk, loc.block_size, loc.size, max(start, 0), stop)

    async def part(self, id: str, part_id: str) -> tuple[PartRecord, bytes] | None:
        def read(conn: sqlite3.Connection) -> tuple[PartRecord, bytes] | None:
            loc = reads.part_location(conn, self.tables, id, part_id)
            return None if loc is None else (loc.record, stream.part_bytes(conn, self.tables, loc))

        return await self._read(read)

    async def blob(self, sha256: str) -> tuple[PartRecord, AsyncIterator[bytes]] | None:
        """A small part is looked up, read and decoded in one reader call (one thread hop instead of
        three); a big one streams (``stream.decoded_chunks``)."""
        def read(conn: sqlite3.Connection) -> tuple[reads.PartLocation, bytes | None] | None:
            loc = reads.blob_location(conn, self.tables, sha256)
            if loc is None:
                return None
            small = (loc.record.size <= SMALL_BLOB_BYTES if loc.in_chunks
                     else not loc.in_side_table and loc.end - loc.start <= SMALL_BLOB_BYTES)
            return loc, stream.part_bytes(conn, self.tables, loc) if small else None

        found = await self._read(read)
        if found is None:
            return None
        loc, data = found
        if data is not None:
            return loc.record, _just(data)
        return loc.record, stream.decoded_chunks(self._readers, self.tables, loc)

    async def direct_read(self) -> dict[str, Any] | None:
        """The file's path and identity and the tenant's table prefix (``direct.DirectReader``)."""
        return await asyncio.to_thread(direct.describe, self.path, self.tables.prefix)

    async def tags(self) -> list[str]:
        return await self._read(partial(reads.tag_names, t=self.tables))

    async def stats(self) -> Stats:
        def read(conn: sqlite3.Connection) -> Stats:
            total, unread = reads.counters(conn, self.tables)
            return Stats(total=total, unread=unread, size_bytes=self._file_size(),
                         tags=reads.tag_counts(conn, self.tables))

        return await self._read(read)

    def _file_size(self) -> int:
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.stat(self.path + suffix).st_size
            except FileNotFoundError:
                pass
        return size


def _vacuum(conn: sqlite3.Connection) -> None:
    # executescript steps the pragma to the end (execute would free a single page)
    conn.executescript("PRAGMA incremental_vacuum;")
    # busy (0/1 in the first column) when the checkpoint thread is copying at that moment: try again
    for _ in range(VACUUM_CHECKPOINT_TRIES):
        if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
            return
        time.sleep(0.01)  # the writer thread, not the event loop: let the checkpoint thread finish


async def _just(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


def to_micros_now() -> int:
    return int(time.time() * 1_000_000)
