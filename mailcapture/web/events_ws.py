"""``WS /api/events``: every bus event as one JSON text frame, plus the runtime counters fed by it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from mailcapture.errors import Unavailable
from mailcapture.events import EVENT_DELETE, EVENT_NEW, EVENT_PRUNE
from mailcapture.web.common import COUNTERS, CTX, RuntimeCounters, ctx_of, dumps

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 25.0  # ping interval; a client that does not pong is dropped
MAX_INCOMING_MESSAGE = 4096  # clients have nothing to tell us; small frames only
SEND_TIMEOUT_SECONDS = 10.0  # a client that cannot take one frame in this time is dropped


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings/pongs and close frames are handled."""
    async for msg in ws:
        if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


async def events(request: web.Request) -> web.WebSocketResponse:
    ctx = ctx_of(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_INCOMING_MESSAGE)
    try:
        subscription = ctx.events.subscribe()
        queue = await subscription.__aenter__()
    except RuntimeError as exc:  # too many subscribers
        raise Unavailable(str(exc)) from None
    try:
        await ws.prepare(request)
        reader = asyncio.create_task(_drain_incoming(ws))
        try:
            while not reader.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                await asyncio.wait_for(ws.send_str(dumps(getter.result())), SEND_TIMEOUT_SECONDS)
        except (ConnectionResetError, TimeoutError):
            pass
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await ws.close()
    finally:
        await subscription.__aexit__(None, None, None)
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
            count_event(app[COUNTERS], await queue.get())


async def counters_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: a background task counting events for /api/v1/info while the app runs."""
    task = asyncio.create_task(_count_forever(app), name="runtime-counters")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
