"""Direct reads: attachments straight from the capture service's SQLite file, when it is on this machine.

Over HTTP every thumbnail costs CPU in three places besides the worker: the capture service decodes
the part and writes it out, this process reads it and passes it down a pipe. When the capture service
says where its file is (``GET /internal/store``) and that path is the same file here (device and
inode), this process only looks the part up and reads its first bytes to sniff the type (a thread of
its own, never the event loop); the worker then reads and decodes the part itself
(``previewer.worker.source``). Anything unexpected (no such endpoint, another machine, a lookup that
fails or finds nothing) falls back to HTTP, which stays the reference path: a part this store does
not have is looked up over HTTP too, so a previewer that outlived its capture service's file asks
again instead of answering 404.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp

from mailcapture.errors import StorageError
from mailcapture.storage.base import PartRecord
from mailcapture.storage.sqlite.direct import DirectReader, Span, same_file
from previewer.sniff import SNIFF_BYTES

log = logging.getLogger(__name__)

DISCOVERY_TIMEOUT = 5.0
DISCOVERY_RETRY = 10.0  # seconds between attempts to find the store while it cannot be read directly
LOOKUP_THREADS = 2


@dataclass(frozen=True)
class Located:
    record: PartRecord
    span: Span


class DirectSource:
    """Finds the capture service's store and looks parts up in it (``None``: use HTTP)."""

    def __init__(self, session: aiohttp.ClientSession, capture_url: str) -> None:
        self._session = session
        self._url = capture_url.rstrip("/") + "/internal/store"
        self._reader: DirectReader | None = None
        self._info: dict[str, Any] = {}  # what /internal/store said about the reader's file
        self._retired: list[DirectReader] = []
        self._next_try = 0.0
        self._lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="previewer-store")

    @property
    def store(self) -> dict[str, Any] | None:
        """What a worker needs to open the same store (None while there is none)."""
        reader = self._reader
        if reader is None:
            return None
        return {"db": reader.path, "prefix": reader.prefix, "device": self._info["device"],
                "inode": self._info["inode"]}

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def reader(self) -> DirectReader | None:
        """The reader, finding the store first when due. Requests that come while it is being found wait
        for that (the first previews of a new mail arrive together, from prewarm)."""
        if self._reader is not None:
            return self._reader
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_try and not self._lock.locked():
            return None
        async with self._lock:
            if self._reader is not None or loop.time() < self._next_try:
                return self._reader
            self._next_try = loop.time() + DISCOVERY_RETRY
            info = await self._discover()
            if info is None or not await self._run(same_file, info):
                return None
            reader = DirectReader(str(info["path"]), str(info["prefix"]))
            try:
                await self._run(reader.locate, "0" * 64)  # opens this thread's connection; proves the schema
            except StorageError as exc:
                log.info("cannot read the capture store %s directly (%s); reading over HTTP", info["path"], exc)
                await self._run(reader.close)
                return None
            log.info("reading attachments directly from %s", info["path"])
            self._reader, self._info = reader, info
            return reader

    async def _discover(self) -> dict[str, Any] | None:
        try:
            async with self._session.get(self._url, timeout=aiohttp.ClientTimeout(total=DISCOVERY_TIMEOUT)) as resp:
                if resp.status != 200:
                    return None
                info = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.debug("no direct store: %s", exc)
            return None
        return info if isinstance(info, dict) else None

    async def locate(self, blob_id: str) -> Located | None:
        reader = await self.reader()
        if reader is None:
            return None
        try:
            found = await self._run(_locate, reader, self._info, blob_id)
        except Replaced:
            log.info("the capture store %s was replaced; finding it again", reader.path)
            self._forget(reader)
            self._next_try = 0.0
            return await self.locate(blob_id) if await self.reader() is not None else None
        except StorageError as exc:
            self._failed(reader, blob_id, exc)
            return None
        return None if found is None else Located(*found)

    async def head(self, located: Located) -> bytes | None:
        """The first SNIFF_BYTES decoded bytes (fewer for a smaller part); None: use HTTP."""
        reader = self._reader
        if reader is None:
            return None
        try:
            head: bytes = await self._run(reader.head, located.span, SNIFF_BYTES)
        except StorageError as exc:
            self._failed(reader, located.record.sha256, exc)
            return None
        return head

    def _failed(self, reader: DirectReader, blob_id: str, exc: StorageError) -> None:
        log.warning("direct read of blob %s failed (%s); reading over HTTP for %g s", blob_id, exc, DISCOVERY_RETRY)
        self._forget(reader)

    def _forget(self, reader: DirectReader) -> None:
        """Stop using ``reader``. A lookup in the other thread may still be using it, so it is closed
        only when the next one is retired (at least DISCOVERY_RETRY later) or with the source."""
        if self._reader is reader:
            self._reader = None
            self._next_try = asyncio.get_running_loop().time() + DISCOVERY_RETRY
            older, self._retired = self._retired, [reader]
            for old in older:
                self._executor.submit(old.close)

    async def close(self) -> None:
        readers = [r for r in (self._reader, *self._retired) if r is not None]
        self._reader, self._retired = None, []
        for reader in readers:
            await self._run(reader.close)
        await asyncio.to_thread(self._executor.shutdown, True)


class Replaced(StorageError):
    """The file at the store's path is not the one the reader has open (the capture service recreated it)."""


def _locate(reader: DirectReader, info: dict[str, Any], blob_id: str) -> tuple[PartRecord, Span] | None:
    """Look ``blob_id`` up, after checking the path still names the reader's file (one stat: cheap next to
    rendering from a stale file, or answering 404 for a part only the new file has)."""
    if not same_file(info):
        raise Replaced(f"{reader.path} is another file now")
    return reader.locate(blob_id)
