"""Tell the previewer about new previewable parts, off the SMTP path.

A bounded queue feeds one background task that posts batches to ``{previewer}/prewarm``. When
the previewer is down or slow, items are dropped (and counted): SMTP is never delayed or failed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp

from mailcapture.storage.base import PartRecord

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
BATCH_SIZE = 50
POST_TIMEOUT = aiohttp.ClientTimeout(total=5)
PREVIEWABLE_PREFIXES = ("image/", "video/")
PREVIEWABLE_TYPES = frozenset({"application/pdf", "image/svg+xml", "image/vnd.adobe.photoshop",
                               "application/x-photoshop", "application/octet-stream"})


def previewable(part: PartRecord) -> bool:
    ct = part.content_type
    return part.size > 0 and (ct.startswith(PREVIEWABLE_PREFIXES) or ct in PREVIEWABLE_TYPES)


@dataclass
class PrewarmStats:
    sent: int = 0
    dropped: int = 0
    failed: int = 0


class Prewarmer:
    def __init__(self, session: aiohttp.ClientSession, previewer_url: str) -> None:
        self._session = session
        self._url = previewer_url.rstrip("/") + "/prewarm"
        self._queue: asyncio.Queue[dict[str, str]] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self.stats = PrewarmStats()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="prewarm")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def submit(self, parts: list[PartRecord]) -> None:
        """Never blocks: when the queue is full the item is dropped."""
        for part in parts:
            if not previewable(part):
                continue
            try:
                self._queue.put_nowait({"id": part.sha256, "content_type": part.content_type})
            except asyncio.QueueFull:
                self.stats.dropped += 1

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_SIZE and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self._session.post(self._url, json={"items": batch}, timeout=POST_TIMEOUT) as resp:
                    await resp.read()
                    if resp.status >= 400:
                        self.stats.failed += len(batch)
                    else:
                        self.stats.sent += len(batch)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.stats.failed += len(batch)
                log.debug("prewarm: previewer unreachable: %s", exc)
