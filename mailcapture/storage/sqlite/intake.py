"""A message's raw blocks compressed and committed while it is still arriving.

The SMTP layer feeds the unstuffed bytes as they are read; every time a whole block
(``block_size`` bytes) is in, it goes to the compression pool (zstd releases the GIL, so this
overlaps the receive on the other core) and then, in its own short transaction, to the database,
under a message pk reserved for it by the first block (``writes.reserve_message_pk``). Its memory
is freed as soon as it is written. At the end of DATA the writer gets the last block and the
parsed message in one transaction: it inserts the block, waits for the parse (running meanwhile
in another thread) and inserts the row, its parts and tags: that commit is what answers 250. A
parse not ready within :data:`WRITER_WAIT_S` rolls that transaction back (the writer must not
stall for long) and it is submitted again once the parse is done.

Blocks of a message that never completes (client gone, over a limit, a failed parse) are deleted by
``abort``; after a crash, when the store opens (``writes.delete_blocks``). Memory: the pieces of one
unfinished block and the blocks waiting for the writer; the raw bytes themselves are held by the
SMTP layer, within its memory budget. Level 0 stores the blocks as views of the raw bytes, all in the
final transaction (nothing to free early).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any

from mailcapture.errors import StorageError
from mailcapture.storage.base import Intake, NewMessage
from mailcapture.storage.sqlite import blocks, writes
from mailcapture.storage.sqlite.prepare import prepare_now
from mailcapture.storage.sqlite.schema import Tables

Block = tuple[int, bytes | memoryview]  # (compressed flag, payload)
Write = Callable[[Callable[[sqlite3.Connection], Any], int], Awaitable[Any]]
Cleanup = Callable[[Callable[[], "int | None"]], None]  # runs a writer job deleting the blocks of pk()

WRITER_WAIT_S = 1.0  # longest the writer waits, transaction open, for the parse after the last block


class _NotParsedYet(StorageError):
    """The parse took longer than the writer may wait: roll back, wait for it, submit again."""


class _ParseFailed(StorageError):
    """Carries the parse's own exception (its ``__cause__``) out of the writer unchanged."""


def _relay(source: asyncio.Future[NewMessage]) -> concurrent.futures.Future[NewMessage]:
    """A thread-safe future resolved like ``source`` (the writer thread waits on it)."""
    target: concurrent.futures.Future[NewMessage] = concurrent.futures.Future()

    def done(f: asyncio.Future[NewMessage]) -> None:
        if f.cancelled():
            target.cancel()
        elif f.exception() is not None:
            target.set_exception(f.exception())
        else:
            target.set_result(f.result())

    source.add_done_callback(done)
    return target


def _pack(pieces: list[bytes | memoryview], level: int) -> Block:
    """One block from its pieces, compressed piece by piece: no 1 MiB join (a fresh mmap, 256 page
    faults, per block); only a block that does not compress is joined, to be stored as is."""
    if len(pieces) == 1:
        return blocks.compress(pieces[0], level)
    packed = blocks.compress_pieces(pieces, level)
    return packed if packed is not None else (blocks.STORED, b"".join(pieces))


class BlockIntake(Intake):
    def __init__(self, write: Write, cleanup: Cleanup, tables: Tables, level: int, pool: Executor,
                 block_size: int, stored: Callable[[str, NewMessage], None] | None = None) -> None:
        self._write = write
        self._stored = stored  # told of each message committed (store.py: compaction)
        self._cleanup = cleanup
        self._tables = tables
        self._level = level
        self._pool = pool
        self._block_size = block_size
        self._pieces: list[bytes | memoryview] = []
        self._pending = 0  # bytes in _pieces
        self._fed = 0
        self._seq = 0  # blocks handed to the pool so far
        self._writing: list[asyncio.Task[None]] = []  # one per early block: compress, then commit
        self._ready: list[tuple[int, int, bytes | memoryview]] = []  # compressed, not yet handed to the writer
        self._flushing: asyncio.Future[None] | None = None  # set while a batch is being written
        self._pk: int | None = None  # reserved by the first block's transaction (writer thread only)
        self._aborted = False

    def feed(self, data: bytes | memoryview) -> None:
        if self._aborted or not len(data):
            return
        self._fed += len(data)
        if self._level <= 0:  # stored as is: the blocks will be views of the raw bytes, nothing to do now
            return
        self._pieces.append(data)
        self._pending += len(data)
        while self._pending >= self._block_size:
            task = asyncio.ensure_future(self._write_block(self._seq, self._take(self._block_size)))
            self._writing.append(task)
            self._seq += 1

    def _take(self, n: int) -> list[bytes | memoryview]:
        """The pieces holding the first ``n`` pending bytes (the rest of the last piece stays pending)."""
        taken: list[bytes | memoryview] = []
        need = n
        while need:
            piece = self._pieces[0]
            if len(piece) <= need:
                taken.append(piece)
                need -= len(piece)
                self._pieces.pop(0)
            else:
                view = memoryview(piece)
                taken.append(view[:need])
                self._pieces[0] = view[need:]
                need = 0
        self._pending -= n
        return taken

    async def _write_block(self, seq: int, pieces: list[bytes | memoryview]) -> None:
        """Compress one block, then commit it together with whatever other blocks are ready by then:
        one transaction per batch, so a writer busy with other work commits several at once."""
        flag, payload = await asyncio.wrap_future(self._pool.submit(_pack, pieces, self._level))
        del pieces
        self._ready.append((seq, flag, payload))
        if self._flushing is not None:
            await self._flushing  # the running flush takes this block too (or the next round does)
            if not self._ready:
                return
        while self._ready:
            batch, self._ready = self._ready, []
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._flushing = done
            try:
                # a failure here fails this task, and with it the intake's add(): waiters need not know
                await self._write(partial(self._insert_blocks, batch), sum(len(p) for _, _, p in batch))
            finally:
                self._flushing = None
                done.set_result(None)

    def _insert_blocks(self, batch: list[tuple[int, int, bytes | memoryview]], conn: sqlite3.Connection) -> None:
        """Writer thread (jobs run one at a time, in order): the first batch reserves the pk."""
        pk = self._pk if self._pk is not None else writes.reserve_message_pk(conn, self._tables)
        for seq, flag, payload in batch:
            writes.insert_block(conn, self._tables, pk, seq, flag, payload)
        self._pk = pk  # its transaction commits right after this returns

    async def add(self, raw: bytes, build: Awaitable[NewMessage]) -> str:
        if self._aborted:
            raise StorageError("this message's intake was aborted")
        try:
            if self._fed != len(raw):
                raise StorageError(f"{self._fed} bytes were fed for a {len(raw)}-byte message")
            building = asyncio.ensure_future(build)
            built = _relay(building)
            if self._level <= 0:
                last: list[Block] = [(blocks.STORED, view) for view in blocks.split(raw, self._block_size)]
            else:
                last = [await asyncio.wrap_future(self._pool.submit(_pack, self._take(self._pending), self._level))
                        ] if self._pending else []
            await asyncio.gather(*self._writing)  # every early block committed
            self._writing = []
            job = partial(self._finish_rows, raw, built, last)
            try:
                id_: str = await self._write(job, sum(len(payload) for _, payload in last) + 1)
            except _ParseFailed as failed:
                assert failed.__cause__ is not None
                raise failed.__cause__ from None
            except _NotParsedYet:
                await building
                id_ = await self._write(job, sum(len(payload) for _, payload in last) + 1)
        except BaseException:
            self.abort()
            raise
        if self._stored is not None:
            self._stored(id_, built.result())
        return id_

    def _finish_rows(self, raw: bytes, built: concurrent.futures.Future[NewMessage], last: list[Block],
                     conn: sqlite3.Connection) -> str:
        """Writer thread: the last block(s), then (parse permitting) the row, parts and tags."""
        # reserved here, the pk is kept only if this transaction commits (a retry reserves again)
        pk = self._pk if self._pk is not None else writes.reserve_message_pk(conn, self._tables)
        return writes.insert_rows(conn, self._tables, pk, self._seq, last, partial(self._finish, raw, built))

    def _finish(self, raw: bytes, built: concurrent.futures.Future[NewMessage]) -> writes.PreparedMessage:
        """In the writer thread, after the blocks: the parsed message, ready for its rows."""
        try:
            message = built.result(timeout=WRITER_WAIT_S)
        except concurrent.futures.TimeoutError:
            raise _NotParsedYet("the parse is not finished") from None
        except Exception as exc:
            raise _ParseFailed(f"the message could not be built: {exc}") from exc
        if message.raw is not raw:
            raise StorageError("the built message does not carry the raw bytes it was built from")
        return prepare_now(message, self._level, self._block_size)

    def abort(self) -> None:
        if self._aborted:
            return
        self._aborted = True
        self._pieces.clear()
        self._pending = 0
        for task in self._writing:
            task.cancel()
        self._writing = []
        # Jobs already queued run before the cleanup job (the writer keeps their order): it sees the pk
        # the first block reserved, if any block got that far.
        if self._seq:
            self._cleanup(lambda: self._pk)
