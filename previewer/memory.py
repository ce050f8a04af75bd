"""The memory watchdog: RSS of the service and its workers, measured with psutil in a thread.

Past THUMBNAIL_MEMORY_LIMIT it hands a :class:`Sample` to ``on_exceed`` (which logs why, answers
in-flight requests and exits non-zero so the supervisor restarts the service).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import psutil

from previewer import jemalloc
from previewer.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    service: int
    workers: dict[int, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.service + sum(self.workers.values())

    def describe(self) -> str:
        parts = [f"service pid {os.getpid()} {self.service / 2**20:.0f} MB"]
        parts += [f"worker pid {pid} {rss / 2**20:.0f} MB" for pid, rss in sorted(self.workers.items())]
        return ", ".join(parts)


def measure(worker_pids: list[int]) -> Sample:
    service = psutil.Process().memory_info().rss
    workers: dict[int, int] = {}
    for pid in worker_pids:
        try:
            workers[pid] = psutil.Process(pid).memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return Sample(service, workers)


class Watchdog:
    def __init__(self, limit: int, interval: float, metrics: Metrics, worker_pids: Callable[[], list[int]],
                 on_exceed: Callable[[Sample], Awaitable[None]]) -> None:
        self.limit = limit
        self.interval = interval
        self.metrics = metrics
        self._worker_pids = worker_pids
        self._on_exceed = on_exceed
        self.last: Sample | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="memory-watchdog")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def check(self) -> Sample:
        sample = await asyncio.to_thread(measure, self._worker_pids())
        self.last = sample
        self.metrics.rss.labels("service").set(sample.service)
        self.metrics.rss.labels("workers").set(sum(sample.workers.values()))
        active = jemalloc.active_bytes()
        if active is not None:
            self.metrics.jemalloc_bytes.set(active)
        if self.limit and sample.total > self.limit:
            log.error("memory watchdog: RSS %.0f MB is over THUMBNAIL_MEMORY_LIMIT (%.0f MB): %s; exiting so "
                      "the supervisor restarts the previewer", sample.total / 2**20, self.limit / 2**20,
                      sample.describe())
            await self._on_exceed(sample)
        return sample

    async def _loop(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)
