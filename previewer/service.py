"""The previewer's core: fetch -> sniff -> queue -> worker -> cache, with single flight per (id, size)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import importlib.metadata
import logging
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from typing import Any

import aiohttp

from mailcapture.config import Settings
from previewer import jemalloc
from previewer.cache import DiskCache
from previewer.direct import DirectSource, Located
from previewer.errors import Busy, NotFound, PreviewError, WrongQueue
from previewer.fetch import Blob, FetchLimits, Fetcher, check_id
from previewer.flights import Flights
from previewer.memory import Sample, Watchdog
from previewer.metrics import Metrics
from previewer.pool import Job, Lane, LaneConfig, Result
from previewer.sniff import IMAGE, QUEUES, Sniffed, guess, sniff

log = logging.getLogger(__name__)

RENDER_VERSION = "2"  # bump when the output of a renderer changes (2: BICUBIC resampling)
EXIT_MEMORY = 3
WATCHDOG_ANSWER_WAIT = 2.0  # at most this long for every waiting request to take its 503
WATCHDOG_GRACE = 0.3  # then this long for those answers to be written out before exiting
MAX_PREWARM_ITEMS = 500
PREVIEWABLE_HINTS = ("image/", "video/", "application/pdf", "application/x-photoshop", "application/octet-stream",
                     "application/x-pdf")


def render_tag() -> str:
    """Part of every ETag: changes when the renderer or a library producing the bytes changes."""
    versions = [RENDER_VERSION]
    for dist in ("pillow", "pymupdf", "av"):
        try:
            versions.append(importlib.metadata.version(dist))
        except importlib.metadata.PackageNotFoundError:
            versions.append("-")
    return hashlib.sha256("/".join(versions).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    mime: str
    source: str  # "hit" (disk cache), "ready" (finished earlier, e.g. prewarmed) or "miss" (rendered now)


class Previewer:
    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.tag = render_tag()
        self.jemalloc = jemalloc.info()
        self.cache = DiskCache(settings.cache_dir, settings.cache_max_bytes, self.metrics, generation=self.tag)
        self.flights: Flights[Result] = Flights(settings.max_pending, settings.result_expire, self.metrics,
                                                settings.retry_after, weigh=lambda result: len(result.data))
        self.lanes: dict[str, Lane] = {}
        self.temp_root = ""
        self._session: aiohttp.ClientSession | None = None
        self._fetcher: Fetcher | None = None
        self._direct: DirectSource | None = None
        self.watchdog = Watchdog(settings.memory_limit, settings.watchdog_interval, self.metrics,
                                 self.worker_pids, self._memory_exceeded)
        self.dying = False
        self.metrics.jemalloc_active.labels("service").set(int(self.jemalloc.active))

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        s = self.settings
        self.temp_root = tempfile.mkdtemp(prefix="previewer-")  # 0700: private to this service
        spool = os.path.join(self.temp_root, "spool")
        os.mkdir(spool, 0o700)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._fetcher = Fetcher(self._session, s.capture_url, spool, FetchLimits(
            s.image_size_limit, s.video_size_limit, s.spool_threshold, s.fetch_timeout, s.test_hooks))
        self._direct = DirectSource(self._session, s.capture_url) if s.direct_read == "auto" else None
        await self.cache.load()
        config = LaneConfig(s.task_workers, s.queue_size, s.task_timeout, s.worker_memory_limit,
                            {"original_size_limit": s.original_size_limit, "test_hooks": s.test_hooks},
                            self.temp_root)
        self.lanes = {name: Lane(name, config, self.metrics) for name in QUEUES}
        try:
            await asyncio.gather(*(lane.start() for lane in self.lanes.values()))
        except BaseException:
            await self.close()
            raise
        workers = [w for lane in self.lanes.values() for w in lane.workers if w is not None]
        self.metrics.jemalloc_active.labels("workers").set(int(all(w.info.get("jemalloc") for w in workers)))
        self.watchdog.start()

    async def close(self) -> None:
        await self.watchdog.close()
        await self.flights.close()
        await asyncio.gather(*(lane.close() for lane in self.lanes.values()), return_exceptions=True)
        if self._direct is not None:
            await self._direct.close()
        if self._session is not None:
            await self._session.close()
        if self.temp_root:
            await asyncio.to_thread(shutil.rmtree, self.temp_root, True)

    def worker_pids(self) -> list[int]:
        return [pid for lane in self.lanes.values() for pid in lane.pids()]

    @property
    def ready(self) -> bool:
        return not self.dying and bool(self.lanes) and all(lane.ready for lane in self.lanes.values())

    # ------------------------------------------------------------ previews
    def etag(self, blob_id: str, size: int) -> str:
        return f'"{blob_id}-{size}-{self.tag}"'

    async def thumbnail(self, blob_id: str, size: int) -> Thumbnail:
        blob_id = check_id(blob_id)
        if self.dying:
            raise Busy("the previewer is restarting", self.settings.retry_after)
        key = (blob_id, size)
        hit = await self.cache.read(key) if key not in self.flights else None
        if hit is not None:
            return Thumbnail(hit[0], hit[1], "hit")
        result, ready = await self.flights.get(key, lambda: self._produce(blob_id, size, background=False))
        return Thumbnail(result.data, result.mime, "ready" if ready else "miss")

    async def thumbnail_nowait(self, blob_id: str, size: int) -> Thumbnail | None:
        """Like :meth:`thumbnail` but never waits for rendering: None means pending (work started)."""
        blob_id = check_id(blob_id)
        if self.dying:
            raise Busy("the previewer is restarting", self.settings.retry_after)
        key = (blob_id, size)
        hit = await self.cache.read(key) if key not in self.flights else None
        if hit is not None:
            return Thumbnail(hit[0], hit[1], "hit")
        result = self.flights.poll(key, lambda: self._produce(blob_id, size, background=False))
        return None if result is None else Thumbnail(result.data, result.mime, "ready")

    def prewarm(self, items: list[dict[str, Any]]) -> dict[str, int]:
        """Start thumbnails in the background when there is room; never waits."""
        counts = {"accepted": 0, "skipped": 0, "invalid": 0}
        for item in items[:MAX_PREWARM_ITEMS]:
            try:
                blob_id = check_id(str(item.get("id", "")))
            except PreviewError:
                counts["invalid"] += 1
                continue
            hint = str(item.get("content_type", "") or "").lower()
            if hint and not hint.startswith(PREVIEWABLE_HINTS) and hint != "image/svg+xml":
                counts["skipped"] += 1
                continue
            for size in self.settings.prewarm_sizes:
                key = (blob_id, size)
                if key in self.flights or self.cache.lookup(key) is not None or self.dying:
                    counts["skipped"] += 1
                    continue
                try:
                    self.flights.start(key, functools.partial(self._produce, blob_id, size, True))
                except Busy:
                    counts["skipped"] += 1
                    continue
                counts["accepted"] += 1
        counts["skipped"] += max(0, len(items) - MAX_PREWARM_ITEMS)
        for result, n in counts.items():
            self.metrics.prewarm.labels(result).inc(n)
        return counts

    def _stream_now(self, sniffed: Sniffed) -> bool:
        """Pass an image on to its worker while it downloads, when a worker can start on it at once.
        (Documents and videos need the whole file; a queued job must not hold a download open.)"""
        return sniffed.queue == IMAGE and sniffed.fmt != "hook" and self.lanes[IMAGE].idle_slot()

    async def _produce(self, blob_id: str, size: int, background: bool) -> Result:
        located = await self._direct.locate(blob_id) if self._direct is not None else None
        result = None
        if located is not None:
            try:
                result = await self._render_direct(located, size, background)
            except NotFound:  # its message was deleted meanwhile: another copy may exist, HTTP has the last word
                result = None
        if result is None:
            result = await self._render_fetched(blob_id, size, background)
        await self.cache.store((blob_id, size), result.data, result.ext)
        return result

    async def _render_direct(self, located: Located, size: int, background: bool) -> Result | None:
        """The worker reads the part from the capture store itself. The queue comes from the declared type
        when it names a format we preview and no size limit depends on the kind (the worker confirms it
        from the first bytes, and says when the job belongs on another queue); otherwise the first bytes
        are read and sniffed here. None: the store failed, read over HTTP."""
        assert self._direct is not None and self._fetcher is not None
        store = self._direct.store
        if store is None:  # given up on since the lookup
            return None
        limits = self._fetcher.limits
        declared = located.record.content_type
        guessed = guess(declared)
        confirm = guessed is not None and located.span.size <= min(limits.file_limit, limits.video_limit)
        sniffed = guessed if confirm else None
        if sniffed is None:  # (also when there is no guess)
            head = await self._direct.head(located)
            if head is None:
                return None
            sniffed = sniff(head, declared, self.settings.test_hooks)
        try:
            return await self._direct_job(store, located, sniffed, confirm, size, background)
        except WrongQueue as moved:
            self.metrics.requeued.labels(sniffed.queue, moved.queue).inc()
            return await self._direct_job(store, located, Sniffed(moved.fmt, moved.queue), False, size, background)

    async def _direct_job(self, store: dict[str, Any], located: Located, sniffed: Sniffed, confirm: bool,
                          size: int, background: bool) -> Result:
        assert self._fetcher is not None
        span = located.span
        self._fetcher.limits.check_size(sniffed, span.size)
        # An image is decoded from the store while it renders (in memory, within THUMBNAIL_IMAGE_SIZE_LIMIT);
        # another input goes to a temp file first when it is above the spool threshold.
        stream = sniffed.queue == IMAGE and sniffed.fmt != "hook"
        spool = not stream and span.size > self.settings.spool_threshold
        job_store = {**store, "span": span.to_dict(), "stream": stream, "spool": spool, "sniff": confirm,
                     "declared": located.record.content_type}
        self.metrics.inputs.labels("direct").inc()
        if span.in_chunks:
            self.metrics.decoded_inputs.inc()
        return await self._run_job(Job(sniffed.fmt, size, b"", None, span.size, self._future(), store=job_store),
                                   sniffed.queue, background)

    async def _render_fetched(self, blob_id: str, size: int, background: bool) -> Result:
        assert self._fetcher is not None
        blob: Blob = await self._fetcher.fetch(blob_id, self._stream_now)
        try:
            job = Job(blob.sniffed.fmt, size, blob.payload, blob.path, blob.size, self._future(), blob.stream)
            self.metrics.inputs.labels("streamed" if blob.stream else "file" if blob.path else "memory").inc()
            return await self._run_job(job, blob.sniffed.queue, background)
        finally:
            await blob.cleanup()

    @staticmethod
    def _future() -> asyncio.Future[Result]:
        return asyncio.get_running_loop().create_future()

    async def _run_job(self, job: Job, queue: str, background: bool) -> Result:
        self.lanes[queue].submit(job, background=background, retry_after=self.settings.retry_after)
        try:
            return await job.future
        except asyncio.CancelledError:
            job.future.cancel()
            raise

    # ------------------------------------------------------------ health
    def health(self) -> dict[str, Any]:
        sample = self.watchdog.last
        return {
            "status": "dying" if self.dying else "ok",
            "pid": os.getpid(),
            "jemalloc": {"active": self.jemalloc.active, "version": self.jemalloc.version,
                         "ld_preload": os.environ.get("LD_PRELOAD", "")},
            "queues": {name: {"depth": lane.queue.qsize(), "capacity": lane.queue.maxsize, "busy": lane.busy,
                              "workers": [{"pid": w.pid, "alive": w.alive, "jemalloc": w.info.get("jemalloc"),
                                           "modules": w.info.get("modules", []),
                                           "priority": w.info.get("priority")}
                                          for w in lane.workers if w is not None]}
                       for name, lane in self.lanes.items()},
            "direct_read": {"enabled": self._direct is not None,
                            "store": self._direct.store if self._direct is not None else None},
            "in_flight": self.flights.running,
            "results_waiting": self.flights.results_waiting,
            "cache": {"enabled": self.cache.enabled, "files": len(self.cache), "bytes": self.cache.total},
            "rss": {"service": sample.service, "workers": sum(sample.workers.values()),
                    "limit": self.settings.memory_limit} if sample else None,
        }

    # ------------------------------------------------------------ watchdog
    async def _memory_exceeded(self, sample: Sample) -> None:
        """Answer everyone (503), kill the workers, exit non-zero for the supervisor to restart us."""
        self.dying = True
        self.flights.fail_all(Busy("the previewer ran out of memory and is restarting", self.settings.retry_after))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flights.idle.wait(), WATCHDOG_ANSWER_WAIT)
        await asyncio.sleep(WATCHDOG_GRACE)
        for pid in self.worker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.temp_root:
            shutil.rmtree(self.temp_root, ignore_errors=True)
        logging.shutdown()
        os._exit(EXIT_MEMORY)
