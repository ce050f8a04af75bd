"""Thumbnails and the previewer's two doors: ``/preview/{id}`` (forwarded) and
``/internal/blob/{sha256}`` (part bytes the previewer renders from)."""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import zlib
from urllib.parse import quote

import aiohttp
from aiohttp import web

from mailcapture.context import Context
from mailcapture.errors import NotFound, Unavailable
from mailcapture.prewarm import previewable
from mailcapture.web.common import ctx_of, detail_or_404, json_ok
from mailcapture.web.errors import BadGateway

log = logging.getLogger(__name__)

THUMB_SIZE = 256
THUMB_TIMEOUT_SECONDS = 15.0
FORWARD_TIMEOUT_SECONDS = 60.0
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# Upstream response headers worth passing back to the browser.
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Content-Length", "Cache-Control", "ETag", "Last-Modified",
                              "Expires", "Vary", "Content-Disposition", "Retry-After", "X-Preview-Cache")
FORWARDED_REQUEST_HEADERS = ("If-None-Match", "If-Modified-Since", "Accept")
PLACEHOLDER_WIDTH, PLACEHOLDER_HEIGHT = 180, 120
PLACEHOLDER_GREY = 0xE8


def _png(width: int, height: int, grey: int) -> bytes:
    """A valid 8-bit greyscale PNG of one flat colour (built with the stdlib, no imaging library)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


PLACEHOLDER_PNG = _png(PLACEHOLDER_WIDTH, PLACEHOLDER_HEIGHT, PLACEHOLDER_GREY)


def _placeholder() -> web.Response:
    resp = web.Response(body=PLACEHOLDER_PNG, content_type="image/png")
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def _fetch_thumb(ctx: Context, sha256: str) -> tuple[bytes, str] | None:
    if ctx.http is None or not ctx.previewer_url:
        return None
    url = f"{ctx.previewer_url}/preview/{sha256}"
    try:
        async with ctx.http.get(url, params={"size": str(THUMB_SIZE)},
                                timeout=aiohttp.ClientTimeout(total=THUMB_TIMEOUT_SECONDS)) as resp:
            if resp.status != 200 or not resp.content_type.startswith("image/"):
                return None
            return await resp.read(), resp.content_type
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.info("thumbnail of %s unavailable: %s", sha256, exc)
        return None


async def thumb(request: web.Request) -> web.Response:
    """A thumbnail of a part; a placeholder image whenever there is none (never an error for
    a part that exists)."""
    detail = await detail_or_404(request)
    part_id = request.match_info["part_id"]
    rec = next((p for p in detail.parts if p.part_id == part_id), None)
    if rec is None:
        raise NotFound(f"part {part_id!r} of message {detail.id!r} not found")
    if not previewable(rec):
        return _placeholder()
    fetched = await _fetch_thumb(ctx_of(request), rec.sha256)
    if fetched is None:
        return _placeholder()
    body, content_type = fetched
    resp = web.Response(body=body, content_type=content_type)
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp


async def forward_preview(request: web.Request) -> web.StreamResponse:
    """``GET /preview/{id}`` passed to the previewer and streamed back (status, headers, body)."""
    ctx = ctx_of(request)
    if ctx.http is None or not ctx.previewer_url:
        raise Unavailable("no previewer is configured (MAILCAPTURE_PREVIEWER_URL is empty)")
    preview_id = request.match_info["preview_id"]
    url = f"{ctx.previewer_url}/preview/{quote(preview_id, safe='')}"
    headers = {k: request.headers[k] for k in FORWARDED_REQUEST_HEADERS if k in request.headers}
    try:
        upstream_cm = ctx.http.request(request.method, url, params=request.query, headers=headers,
                                       allow_redirects=False,
                                       timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_SECONDS))
        upstream = await upstream_cm.__aenter__()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BadGateway(f"previewer unreachable: {exc}") from None
    try:
        resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name in FORWARDED_RESPONSE_HEADERS:
            if name == "Content-Length" and "Content-Encoding" in upstream.headers:
                continue  # the client session decoded the body: the length no longer holds
            if name in upstream.headers:
                resp.headers[name] = upstream.headers[name]
        await resp.prepare(request)
        if request.method == "HEAD":
            await resp.write_eof()
            return resp
        try:
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("previewer stream of %s broke: %s", preview_id, exc)
            raise ConnectionResetError("upstream broke") from None  # abort; headers already sent
        await resp.write_eof()
        return resp
    finally:
        await upstream_cm.__aexit__(None, None, None)


async def internal_blob(request: web.Request) -> web.StreamResponse:
    """The decoded bytes of any stored part with this SHA-256, streamed (for the previewer)."""
    sha256 = request.match_info["sha256"].lower()
    if not SHA256_HEX.match(sha256):
        raise NotFound("unknown blob")
    found = await ctx_of(request).store.blob(sha256)
    if found is None:
        raise NotFound(f"blob {sha256} not found")
    rec, chunks = found
    resp = web.StreamResponse()
    resp.content_type = rec.content_type or "application/octet-stream"
    resp.content_length = rec.size
    resp.headers["X-Filename"] = quote(rec.filename or rec.content_id, safe="")
    try:
        await resp.prepare(request)
        if request.method != "HEAD":  # a HEAD answer is the headers alone
            async for chunk in chunks:
                await resp.write(chunk)
        await resp.write_eof()
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await asyncio.shield(aclose())
    return resp


async def internal_store(request: web.Request) -> web.Response:
    """Where the store can be read directly by a previewer on this machine (404 when it cannot)."""
    info = await ctx_of(request).store.direct_read()
    if info is None:
        raise NotFound("this store cannot be read directly; use /internal/blob")
    return json_ok(info)
