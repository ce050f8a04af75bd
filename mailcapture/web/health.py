"""Probes: ``/livez`` (the process answers) and ``/readyz`` (the store answers too)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mailcapture.errors import Unavailable
from mailcapture.web.common import ctx_of

READY_TIMEOUT_SECONDS = 2.0


async def livez(request: web.Request) -> web.Response:
    return web.Response(text="ok", content_type="text/plain")


async def readyz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(ctx_of(request).store.latest_id(None), READY_TIMEOUT_SECONDS)
    except TimeoutError:
        raise Unavailable(f"store did not answer within {READY_TIMEOUT_SECONDS:g} s") from None
    return web.Response(text="ok", content_type="text/plain")
