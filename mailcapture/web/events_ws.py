"""``WS /api/events``: every bus event as one JSON text frame, plus the runtime counters fed by it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from mailcapture.errors import Unavailable
from mailcapture.events import EVENT_DELETE, EVENT_NEW, EVENT_PRUNE, MAX_SUBSCRIBERS
from mailcapture.web.common import COUNTERS, CTX, STATS, RuntimeCounters, ctx_of, dumps

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 25.0  # ping interval; a client that does not pong is dropped
MAX_INCOMING_MESSAGE = 4096  # clients have nothing to tell us; small frames only
SEND_TIMEOUT_SECONDS = 10.0  # a client that cannot take one frame in this time is dropped


OPEN_SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("open_sockets", weakref.WeakSet)


def track_sockets(app: web.Application) -> None:
    """Close every event socket when the app shuts down, so SIGTERM never waits on an open inbox."""
    app[OPEN_SOCKETS] = weakref.WeakSet()

    async def close_all(app: web.Application) -> None:
        sockets = app[OPEN_SOCKETS]
        for ws in list(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    app.on_shutdown.append(close_all)


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings/pongs and close frames are handled."""
    async for msg in ws:
        if msg.type == WSMsgType.ERROR:
            break


async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any]]) -> None:
    """Send queued events until the client goes away (or cannot keep up)."""
    reader = asyncio.create_task(_drain_incoming(ws))
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                return
            await asyncio.wait_for(ws.send_str(dumps(getter.result())), SEND_TIMEOUT_SECONDS)
    except (ConnectionResetError, TimeoutError):
        return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def events(request: web.Request) -> web.WebSocketResponse:
    bus = ctx_of(request).events
    if bus.subscribers >= MAX_SUBSCRIBERS:
        raise Unavailable("too many event subscribers; try again later")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_INCOMING_MESSAGE)
    await ws.prepare(request)
    request.app[OPEN_SOCKETS].add(ws)
    stats = request.app[STATS]
    stats.listeners += 1
    try:
        async with bus.subscribe() as queue:
            await _pump(ws, queue)
    except RuntimeError:  # the subscriber limit was reached between the check and now
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many subscribers")
    finally:
        stats.listeners -= 1
        await ws.close()
    return ws


def count_event(counters: RuntimeCounters, event: dict[str, Any]) -> None:
    """Update Mailpit's RuntimeStats from one bus event (pure)."""
    kind, data = event.get("Type"), event.get("Data")
    if kind == EVENT_NEW:
        counters.smtp_accepted += 1
        if isinstance(data, dict) and isinstance(data.get("Size"), int):
            counters.smtp_accepted_size += data["Size"]
    elif kind == EVENT_PRUNE and isinstance(data, dict) and isinstance(data.get("IDs"), list):
        counters.messages_deleted += len(data["IDs"])
    elif kind == EVENT_DELETE:
        pass  # deletions through the API are counted where they happen (they may be batched)


async def _count_forever(app: web.Application) -> None:
    async with app[CTX].events.subscribe() as queue:
        while True:
            event = await queue.get()
            count_event(app[COUNTERS], event)
            if event.get("Type") in (EVENT_NEW, EVENT_PRUNE):
                app[STATS].changed()


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: count events for /api/v1/info and debounce "stats" events while the app runs."""
    task = asyncio.create_task(_count_forever(app), name="runtime-counters")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app[STATS].close()
