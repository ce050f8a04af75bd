"""``GET /metrics``: Prometheus text format of the default registry plus mailbox gauges."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from mailcapture.web.common import COUNTERS, ctx_of


def _gauge(name: str, help_text: str, value: int) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name} {value}\n"


async def metrics(request: web.Request) -> web.Response:
    stats = await ctx_of(request).store.stats()
    counters = request.app[COUNTERS]
    text = generate_latest(REGISTRY).decode() + "".join((
        _gauge("mailcapture_messages", "Messages in the store.", stats.total),
        _gauge("mailcapture_messages_unread", "Unread messages in the store.", stats.unread),
        _gauge("mailcapture_database_bytes", "Size of the database on disk.", stats.size_bytes),
        _gauge("mailcapture_accepted_total", "Messages accepted since start.", counters.smtp_accepted),
        _gauge("mailcapture_deleted_total", "Messages deleted since start.", counters.messages_deleted),
    ))
    resp = web.Response(body=text.encode())
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp
