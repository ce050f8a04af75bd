"""Events the API publishes on the bus after a change (Mailpit's websocket event shapes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailcapture import __version__
from mailcapture.context import Context
from mailcapture.events import EVENT_DELETE, EVENT_STATS, EVENT_TRUNCATE, EVENT_UPDATE

# Above this many IDs one change publishes only a "stats" event, not one event per message.
PER_MESSAGE_EVENTS_MAX = 200


def updated(ctx: Context, ids: Sequence[str], **changes: Any) -> None:
    if len(ids) <= PER_MESSAGE_EVENTS_MAX:
        for msg_id in ids:
            ctx.events.publish(EVENT_UPDATE, {"ID": msg_id, **changes})


def deleted(ctx: Context, ids: Sequence[str], everything: bool) -> None:
    if everything:
        ctx.events.publish(EVENT_TRUNCATE, None)
    elif len(ids) <= PER_MESSAGE_EVENTS_MAX:
        for msg_id in ids:
            ctx.events.publish(EVENT_DELETE, {"ID": msg_id})


async def stats(ctx: Context) -> None:
    """Mailpit's mailbox "stats" event, sent after every change so open inboxes refresh counts."""
    if ctx.events.subscribers == 0:
        return
    current = await ctx.store.stats()
    ctx.events.publish(EVENT_STATS, {"Total": current.total, "Unread": current.unread,
                                     "Version": __version__})
