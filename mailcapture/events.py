"""Live events for the web inbox (Mailpit's ``/api/events``): a bounded fan-out.

Each subscriber gets its own bounded queue; a subscriber too slow to keep up loses its oldest
events (and is told with a ``"lagged"`` event) instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

# Mailpit's event types
EVENT_NEW = "new"
EVENT_UPDATE = "update"
EVENT_DELETE = "delete"
EVENT_TRUNCATE = "truncate"
EVENT_PRUNE = "prune"
EVENT_STATS = "stats"

MAX_SUBSCRIBERS = 1024


class EventBus:
    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, type_: str, data: Any) -> None:
        """Queue ``{"Type": type_, "Data": data}`` for every subscriber; never blocks."""
        event = {"Type": type_, "Data": data}
        for queue in self._subscribers:
            if queue.full():
                # drop the two oldest: room for the "lagged" marker and for this (newest) event
                queue.get_nowait()
                if queue.maxsize > 1:
                    queue.get_nowait()
                    queue.put_nowait({"Type": "lagged", "Data": None})
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        if len(self._subscribers) >= MAX_SUBSCRIBERS:
            raise RuntimeError("too many event subscribers")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
