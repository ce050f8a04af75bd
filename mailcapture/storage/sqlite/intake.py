"""Compressing a message's raw blocks while it is still arriving.

The SMTP layer feeds the unstuffed bytes as they are read; every time a whole block
(``block_size`` bytes) is in, it goes to the compression pool (zstd releases the GIL, so this
overlaps the receive on the other core). At the end of DATA only the last, partial block is left to
compress before the writer inserts the message. Memory: the pieces of one unfinished block, plus
the compressed blocks of the message (the raw bytes themselves are held by the SMTP layer, within
its memory budget).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

from mailcapture.errors import StorageError
from mailcapture.storage.base import Intake, NewMessage
from mailcapture.storage.sqlite import blocks

Block = tuple[int, bytes | memoryview]  # (compressed flag, payload)
Insert = Callable[[NewMessage, list[Block]], Awaitable[str]]


def _pack(pieces: list[bytes | memoryview], level: int) -> Block:
    block = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    return blocks.compress(block, level)


class BlockIntake(Intake):
    def __init__(self, insert: Insert, level: int, pool: Executor, block_size: int) -> None:
        self._insert = insert
        self._level = level
        self._pool = pool
        self._block_size = block_size
        self._pieces: list[bytes | memoryview] = []
        self._pending = 0  # bytes in _pieces
        self._fed = 0
        self._blocks: list[asyncio.Future[Block]] = []
        self._aborted = False

    def feed(self, data: bytes | memoryview) -> None:
        if self._aborted or not len(data):
            return
        self._fed += len(data)
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

    def _compress(self, pieces: list[bytes | memoryview]) -> asyncio.Future[Block]:
        """Joining the pieces into one block happens in the pool too: nothing is copied on the event loop."""
        loop = asyncio.get_running_loop()
        return asyncio.wrap_future(self._pool.submit(_pack, pieces, self._level), loop=loop)

    async def add(self, raw: bytes, build: Awaitable[NewMessage]) -> str:
        if self._aborted:
            raise StorageError("this message's intake was aborted")
        try:
            if self._fed != len(raw):
                raise StorageError(f"{self._fed} bytes were fed for a {len(raw)}-byte message")
            if self._pending:
                self._blocks.append(self._compress(self._take(self._pending)))
            message = await build
            if message.raw is not raw:
                raise StorageError("the built message does not carry the raw bytes it was built from")
            packed = list(await asyncio.gather(*self._blocks))
        except BaseException:
            self.abort()
            raise
        self._blocks = []
        return await self._insert(message, packed)

    def abort(self) -> None:
        self._aborted = True
        self._pieces.clear()
        self._pending = 0
        for future in self._blocks:
            future.cancel()
        self._blocks = []
