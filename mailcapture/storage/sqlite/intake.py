"""Compressing a message's raw blocks while it is still arriving, and inserting them while it is parsed.

The SMTP layer feeds the unstuffed bytes as they are read; every time a whole block
(``block_size`` bytes) is in, it goes to the compression pool (zstd releases the GIL, so this
overlaps the receive on the other core). At the end of DATA the writer starts the message's
transaction at once: it inserts the blocks (waiting for the last ones to be compressed) while the
message is still being parsed in another thread, then waits for the parse and inserts the row, its
parts and tags, and commits (see ``writes.insert_blocks_first``). A parse that is not ready within
:data:`WRITER_WAIT_S` after the blocks are in rolls the transaction back (the writer must not stall
for long) and the message is inserted the plain way once parsed.

Memory: the pieces of one unfinished block, plus the compressed blocks of the message (the raw bytes
themselves are held by the SMTP layer, within its memory budget).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from functools import partial

from mailcapture.errors import StorageError
from mailcapture.storage.base import Intake, NewMessage
from mailcapture.storage.sqlite import blocks, writes
from mailcapture.storage.sqlite.prepare import prepare_now
from mailcapture.storage.sqlite.schema import Tables

Block = tuple[int, bytes | memoryview]  # (compressed flag, payload)
Insert = Callable[[NewMessage, list[Block]], Awaitable[str]]
Write = Callable[[Callable[[sqlite3.Connection], str], int], Awaitable[str]]

WRITER_WAIT_S = 1.0  # longest the writer waits, transaction open, for the parse after the blocks are in
BLOCK_WAIT_S = 60.0  # longest it waits for one block's compression (a stuck pool is an error, not a hang)


class _NotParsedYet(StorageError):
    """The parse took longer than the writer may wait: roll back and insert the plain way."""


class _ParseFailed(StorageError):
    """Carries the parse's own exception (its ``__cause__``) out of the writer unchanged."""


def _relay(source: asyncio.Future[NewMessage]) -> concurrent.futures.Future[NewMessage]:
    """A thread-safe future resolved like ``source`` (the writer thread waits on it)."""
    target: concurrent.futures.Future[NewMessage] = concurrent.futures.Future()

    def done(f: asyncio.Future[NewMessage]) -> None:
        if f.cancelled():
            target.cancel()
        elif f.exception() is not None:
            target.set_exception(f.exception())  # type: ignore[arg-type]
        else:
            target.set_result(f.result())

    source.add_done_callback(done)
    return target


def _stored(view: memoryview) -> concurrent.futures.Future[Block]:
    done: concurrent.futures.Future[Block] = concurrent.futures.Future()
    done.set_result((blocks.STORED, view))
    return done


def _pack(pieces: list[bytes | memoryview], level: int) -> Block:
    """One block from its pieces, compressed piece by piece: no 1 MiB join (a fresh mmap, 256 page
    faults, per block); only a block that does not compress is joined, to be stored as is."""
    if len(pieces) == 1:
        return blocks.compress(pieces[0], level)
    packed = blocks.compress_pieces(pieces, level)
    return packed if packed is not None else (blocks.STORED, b"".join(pieces))


class BlockIntake(Intake):
    def __init__(self, insert: Insert, write: Write, tables: Tables, level: int, pool: Executor,
                 block_size: int) -> None:
        self._insert = insert
        self._write = write
        self._tables = tables
        self._level = level
        self._pool = pool
        self._block_size = block_size
        self._pieces: list[bytes | memoryview] = []
        self._pending = 0  # bytes in _pieces
        self._fed = 0
        self._blocks: list[concurrent.futures.Future[Block]] = []
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
            self._blocks.append(self._compress(self._take(self._block_size)))

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

    def _compress(self, pieces: list[bytes | memoryview]) -> concurrent.futures.Future[Block]:
        """Joining the pieces into one block happens in the pool too: nothing is copied on the event loop."""
        return self._pool.submit(_pack, pieces, self._level)

    async def add(self, raw: bytes, build: Awaitable[NewMessage]) -> str:
        if self._aborted:
            raise StorageError("this message's intake was aborted")
        try:
            if self._fed != len(raw):
                raise StorageError(f"{self._fed} bytes were fed for a {len(raw)}-byte message")
            if self._level <= 0:
                self._blocks = [_stored(view) for view in blocks.split(raw, self._block_size)]
            elif self._pending:
                self._blocks.append(self._compress(self._take(self._pending)))
            building = asyncio.ensure_future(build)
            built = _relay(building)
            try:
                return await self._write(partial(
                    writes.insert_blocks_first, t=self._tables, packed=self._packed(),
                    finish=partial(self._finish, raw, built)), len(raw))
            except _ParseFailed as failed:
                assert failed.__cause__ is not None
                raise failed.__cause__ from None
            except _NotParsedYet:
                message = await building
                packed = [future.result() for future in self._blocks]  # all done: the writer had them
                return await self._insert(message, packed)
        except BaseException:
            self.abort()
            raise

    def _packed(self) -> Iterator[Block]:
        """The compressed blocks in order (in the writer thread: waits for each)."""
        for future in self._blocks:
            yield future.result(timeout=BLOCK_WAIT_S)

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
        self._aborted = True
        self._pieces.clear()
        self._pending = 0
        for future in self._blocks:
            future.cancel()
        self._blocks = []
