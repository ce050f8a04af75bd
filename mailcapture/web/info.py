"""``GET /api/v1/info``: Mailpit's AppInformation (version, database, counts, runtime stats)."""

from __future__ import annotations

import os
import time
from typing import Any

import psutil
from aiohttp import web

from mailcapture import __version__
from mailcapture.config import Settings
from mailcapture.web.common import COUNTERS, RuntimeCounters, ctx_of, json_ok

_PROCESS = psutil.Process()


def database_path(settings: Settings) -> str:
    return os.path.abspath(os.path.join(str(settings.data_dir), str(settings.db_file)))


def runtime_stats(counters: RuntimeCounters, rss: int) -> dict[str, Any]:
    return {
        "Uptime": int(time.monotonic() - counters.started),
        "Memory": rss,
        "MessagesDeleted": counters.messages_deleted,
        "SMTPAccepted": counters.smtp_accepted,
        "SMTPAcceptedSize": counters.smtp_accepted_size,
        "SMTPRejected": counters.smtp_rejected,
        "SMTPIgnored": counters.smtp_ignored,
    }


async def info(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    stats = await ctx.store.stats()
    return json_ok({
        "Version": __version__,
        "LatestVersion": "disabled",  # we never call home
        "Database": database_path(ctx.settings),
        "DatabaseSize": stats.size_bytes,
        "Messages": stats.total,
        "Unread": stats.unread,
        "Tags": dict(stats.tags),
        "RuntimeStats": runtime_stats(request.app[COUNTERS], _PROCESS.memory_info().rss),
    })
