"""HTTP front of the previewer (aiohttp): /preview/{id}, /prewarm, /healthz, /readyz, /metrics.

Every error leaves through :func:`error_middleware` as ``{"Error": message, "Status": status}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from mailcapture.config import Settings
from previewer.errors import BadRequest, NotFound, PreviewError, error_body
from previewer.fetch import check_id
from previewer.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from previewer.service import Previewer
from previewer.settings import DEFAULT_SIZE, SIZES

log = logging.getLogger(__name__)

PREVIEWER_KEY = web.AppKey("previewer", Previewer)
CACHE_FOREVER = "public, max-age=31536000, immutable"
NO_STORE = "no-store"
MAX_PREWARM_BODY = 256 * 1024
NO_WAIT = ("0", "false", "no")
PENDING_RETRY_AFTER = 1


def error_response(exc: PreviewError) -> web.Response:
    """The one place a failure becomes an HTTP answer."""
    headers = {"Cache-Control": NO_STORE, **exc.headers()}
    return web.json_response(error_body(exc), status=int(exc.status), headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PreviewError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        failure = PreviewError(exc.reason)
        failure.status = exc.status
        return error_response(failure)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(PreviewError("internal error"))


def parse_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_SIZE
    if not raw.isdigit() or int(raw) not in SIZES:
        raise BadRequest(f"size must be one of {', '.join(map(str, SIZES))}, got {raw!r}")
    return int(raw)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [part.strip().removeprefix("W/") for part in header.split(",")]
    return "*" in candidates or etag in candidates


async def preview(request: web.Request) -> web.StreamResponse:
    service = request.app[PREVIEWER_KEY]
    size = parse_size(request.query.get("size"))
    blob_id = check_id(request.match_info["id"])
    etag = service.etag(blob_id, size)
    status = 200
    try:
        inm = request.headers.get("If-None-Match")
        if inm is not None and _etag_matches(inm, etag):
            status = 304
            return web.Response(status=304, headers={"ETag": etag, "Cache-Control": CACHE_FOREVER})
        if request.query.get("wait", "1").lower() in NO_WAIT:
            polled = await service.thumbnail_nowait(blob_id, size)
            if polled is None:
                status = 202
                return web.json_response({"Pending": True, "Status": 202}, status=202,
                                         headers={"Retry-After": str(PENDING_RETRY_AFTER), "Cache-Control": NO_STORE})
            thumb = polled
        else:
            thumb = await service.thumbnail(blob_id, size)
        return web.Response(body=thumb.data, content_type=thumb.mime, headers={
            "ETag": etag, "Cache-Control": CACHE_FOREVER, "X-Preview-Cache": thumb.source})
    except PreviewError as exc:
        status = int(exc.status)
        raise
    finally:
        service.metrics.requests.labels(str(status)).inc()


async def prewarm(request: web.Request) -> web.Response:
    service = request.app[PREVIEWER_KEY]
    if request.content_length is not None and request.content_length > MAX_PREWARM_BODY:
        raise BadRequest(f"prewarm body over {MAX_PREWARM_BODY} bytes")
    try:
        body = json.loads(await request.content.read(MAX_PREWARM_BODY + 1))
    except ValueError:
        raise BadRequest('expected JSON {"items": [{"id": "<sha256>", "content_type": "..."}]}') from None
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BadRequest('expected JSON {"items": [{"id": "<sha256>", "content_type": "..."}]}')
    return web.json_response(service.prewarm(items), status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(request.app[PREVIEWER_KEY].health())


async def readyz(request: web.Request) -> web.Response:
    service = request.app[PREVIEWER_KEY]
    if service.ready:
        return web.json_response({"ready": True})
    return web.json_response({"Error": "workers are starting or restarting", "Status": 503, "ready": False},
                             status=503, headers={"Retry-After": "1"})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[PREVIEWER_KEY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


async def not_found(request: web.Request) -> web.Response:
    raise NotFound(f"no such endpoint: {request.path}")


def make_app(service: Previewer) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_PREWARM_BODY)
    app[PREVIEWER_KEY] = service
    app.router.add_get("/preview/{id}", preview)
    app.router.add_post("/prewarm", prewarm)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)

    async def lifecycle(app: web.Application) -> Any:
        await service.start()
        yield
        await service.close()

    app.cleanup_ctx.append(lifecycle)
    return app


LISTEN_BACKLOG = 1024  # aiohttp's 128 overflows when nginx opens many upstream connections at once


async def serve(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT. Logs the bound address (port 0 picks a free one)."""
    service = Previewer(settings)
    # Per-request access lines only at DEBUG: nginx logs every request in the stack, and a log line
    # per thumbnail costs more than serving a cached one.
    access_log = logging.getLogger("previewer.access") if settings.log_level == "DEBUG" else None
    runner = web.AppRunner(make_app(service), access_log=access_log)
    await runner.setup()
    host, port = settings.http_addr
    site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
    try:
        await site.start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc)
        await runner.cleanup()
        return 1
    for addr in runner.addresses:
        print(f"previewer: listening on http://{addr[0]}:{addr[1]}", file=sys.stderr, flush=True)
    log.info("jemalloc %s; %d worker(s) per queue; cache %s", service.jemalloc.version or "not active",
             settings.task_workers, settings.cache_dir or "off")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0
