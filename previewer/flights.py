"""Single flight per (id, size), and finished results kept until collected or expired.

The first request for a key starts one task; later requests for the same key await the same
future (``asyncio.shield``: a client that goes away never cancels the work others wait for).
A result that finishes with nobody waiting (client gone, prewarm, a ``?wait=0`` poller) stays for
THUMBNAIL_RESULT_EXPIRE_TIME, then is dropped; so do errors that cannot change (413, 415, 422). The map holds at most ``max_pending`` keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Generic, TypeVar

from previewer.errors import Busy, PreviewError
from previewer.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_KEPT_BYTES = 64 * 1024 * 1024  # uncollected results held in memory at most (oldest dropped first)
# Outcomes that cannot change for a content-addressed id: kept for pollers like results.
KEPT_ERRORS = frozenset({HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                         HTTPStatus.UNPROCESSABLE_ENTITY})
Key = tuple[str, int]


@dataclass
class Flight(Generic[T]):
    key: Key
    future: asyncio.Future[T]
    waiters: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    expiry: asyncio.TimerHandle | None = field(default=None, repr=False)
    weight: int = 0


class Flights(Generic[T]):
    def __init__(self, max_pending: int, expire: float, metrics: Metrics, retry_after: int = 2,
                 weigh: Callable[[T], int] | None = None, max_kept_bytes: int = MAX_KEPT_BYTES) -> None:
        self.max_pending = max_pending
        self._weigh = weigh
        self.max_kept_bytes = max_kept_bytes
        self.kept_bytes = 0
        self.expire = expire
        self.metrics = metrics
        self.retry_after = retry_after
        self._map: OrderedDict[Key, Flight[T]] = OrderedDict()
        self._waiting = 0  # finished, uncollected
        self.waiters = 0  # requests awaiting any flight right now
        self.idle = asyncio.Event()  # set while no request awaits a flight
        self.idle.set()

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: Key) -> bool:
        return key in self._map

    @property
    def running(self) -> int:
        return len(self._map) - self._waiting

    @property
    def results_waiting(self) -> int:
        return self._waiting

    async def get(self, key: Key, produce: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """(result, was it already waiting) for ``key``: collected, joined or produced.
        Raises the flight's PreviewError."""
        flight = self._map.get(key)
        if flight is not None and flight.future.done():
            return self._collect(flight), True
        if flight is None:
            flight = self.start(key, produce)
        else:
            self.metrics.flights_joined.inc()
        flight.waiters += 1
        self.waiters += 1
        self.idle.clear()
        try:
            return await asyncio.shield(flight.future), False
        finally:
            flight.waiters -= 1
            self.waiters -= 1
            if self.waiters == 0:
                self.idle.set()

    def start(self, key: Key, produce: Callable[[], Awaitable[T]]) -> Flight[T]:
        """Register a new flight (before its work is queued anywhere) and start its task."""
        if key in self._map:
            return self._map[key]
        if len(self._map) >= self.max_pending and not self._drop_oldest_result():
            raise Busy(f"{self.max_pending} thumbnails are already in progress (PREVIEWER_MAX_PENDING)",
                       self.retry_after)
        loop = asyncio.get_running_loop()
        flight: Flight[T] = Flight(key, loop.create_future())
        self._map[key] = flight
        flight.task = asyncio.create_task(self._run(flight, produce), name=f"flight-{key[0][:12]}-{key[1]}")
        self.metrics.in_flight.set(self.running)
        return flight

    async def _run(self, flight: Flight[T], produce: Callable[[], Awaitable[T]]) -> None:
        try:
            result = await produce()
        except asyncio.CancelledError:
            self._finish_error(flight, Busy("the previewer is shutting down", self.retry_after))
            raise
        except PreviewError as exc:
            self._finish_error(flight, exc)
        except Exception as exc:
            log.exception("preview of %s failed unexpectedly", flight.key)
            self._finish_error(flight, PreviewError(f"internal error: {type(exc).__name__}"))
        else:
            self._finish_ok(flight, result)

    def _finish_error(self, flight: Flight[T], exc: PreviewError) -> None:
        if not flight.future.done():
            flight.future.set_exception(exc)
            if flight.waiters == 0:
                flight.future.exception()  # nobody awaits it now: mark retrieved
        if flight.waiters == 0 and exc.status in KEPT_ERRORS:
            self._keep(flight)  # a poller (?wait=0) must see the error, not start over
        else:
            self._map.pop(flight.key, None)
        self.metrics.in_flight.set(self.running)

    def _finish_ok(self, flight: Flight[T], result: T) -> None:
        if not flight.future.done():
            flight.future.set_result(result)
        if flight.waiters > 0:
            self._map.pop(flight.key, None)
        else:
            self._keep(flight)
        self.metrics.in_flight.set(self.running)

    def _keep(self, flight: Flight[T]) -> None:
        """Nobody collected this outcome: keep it for THUMBNAIL_RESULT_EXPIRE_TIME."""
        if self._map.get(flight.key) is not flight:
            return
        if self._weigh is not None and not flight.future.exception():
            flight.weight = self._weigh(flight.future.result())
            while self.kept_bytes + flight.weight > self.max_kept_bytes and self._drop_oldest_result():
                pass
        self.kept_bytes += flight.weight
        self._waiting += 1
        self.metrics.results_waiting.set(self._waiting)
        flight.expiry = asyncio.get_running_loop().call_later(self.expire, self._expire, flight)

    def poll(self, key: Key, produce: Callable[[], Awaitable[T]]) -> T | None:
        """Never waits: the finished outcome (result, or its error raised), or None while pending
        (starting the work when nothing runs for ``key`` yet)."""
        flight = self._map.get(key)
        if flight is None:
            self.start(key, produce)
            return None
        if flight.future.done():
            return self._collect(flight)
        return None

    def _collect(self, flight: Flight[T]) -> T:
        self._release(flight)
        return flight.future.result()

    def _release(self, flight: Flight[T]) -> None:
        if self._map.get(flight.key) is flight:
            del self._map[flight.key]
        if flight.expiry is not None:
            flight.expiry.cancel()
            flight.expiry = None
            self.kept_bytes -= flight.weight
            self._waiting -= 1
            self.metrics.results_waiting.set(self._waiting)

    def _expire(self, flight: Flight[T]) -> None:
        if flight.expiry is None:
            return
        self._release(flight)
        self.metrics.results_expired.inc()

    def _drop_oldest_result(self) -> bool:
        for flight in self._map.values():
            if flight.expiry is not None:
                self._release(flight)
                self.metrics.results_expired.inc()
                return True
        return False

    def fail_all(self, exc: PreviewError) -> None:
        """Answer every waiter now (memory watchdog, shutdown)."""
        for flight in list(self._map.values()):
            if not flight.future.done():
                flight.future.set_exception(exc)
                if flight.waiters == 0:
                    flight.future.exception()
            if flight.task is not None:
                flight.task.cancel()

    async def close(self) -> None:
        tasks = [f.task for f in self._map.values() if f.task is not None]
        for flight in list(self._map.values()):
            if flight.expiry is not None:
                flight.expiry.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._map.clear()
