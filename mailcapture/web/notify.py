"""Events the API publishes on the bus after a change (Mailpit's websocket event shapes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from mailcapture import __version__
from mailcapture.context import Context
from mailcapture.events import EVENT_DELETE, EVENT_STATS, EVENT_TRUNCATE, EVENT_UPDATE

log = logging.getLogger(__name__)

# Above this many IDs one change publishes a single "lagged" event (the bus's own "you missed
# changes, reload" signal) instead of one event per message.
PER_MESSAGE_EVENTS_MAX = 1000
EVENT_LAGGED = "lagged"
# Changes within this many seconds share one "stats" event (Mailpit debounces them too).
STATS_DELAY_SECONDS = 0.25


def updated(ctx: Context, ids: Sequence[str], **changes: Any) -> None:
    if len(ids) > PER_MESSAGE_EVENTS_MAX:
        ctx.events.publish(EVENT_LAGGED, None)
        return
    for msg_id in ids:
        ctx.events.publish(EVENT_UPDATE, {"ID": msg_id, **changes})


def deleted(ctx: Context, ids: Sequence[str], everything: bool) -> None:
    if everything:
        ctx.events.publish(EVENT_TRUNCATE, None)
    elif len(ids) > PER_MESSAGE_EVENTS_MAX:
        ctx.events.publish(EVENT_LAGGED, None)
    else:
        for msg_id in ids:
            ctx.events.publish(EVENT_DELETE, {"ID": msg_id})


class StatsPublisher:
    """Publishes Mailpit's mailbox "stats" event after changes, at most once per delay, and only
    while someone is listening on ``/api/events``."""

    def __init__(self, ctx: Context, delay: float = STATS_DELAY_SECONDS) -> None:
        self._ctx = ctx
        self._delay = delay
        self._task: asyncio.Task[None] | None = None
        self.listeners = 0  # open /api/events sockets

    def changed(self) -> None:
        if self.listeners and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._publish_later(), name="stats-event")

    async def _publish_later(self) -> None:
        await asyncio.sleep(self._delay)
        try:
            current = await self._ctx.store.stats()
        except Exception:  # a failed count only costs one refresh of the open inboxes
            log.exception("cannot count messages for the stats event")
            return
        self._ctx.events.publish(EVENT_STATS, {"Total": current.total, "Unread": current.unread,
                                               "Version": __version__})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
