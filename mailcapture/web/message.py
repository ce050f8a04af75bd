"""``/api/v1/message/{ID}``: the message, its headers, its source and its parts."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web

from mailcapture.context import Context
from mailcapture.errors import NotFound
from mailcapture.mime import decode_text
from mailcapture.mime.model import KIND_HTML, KIND_TEXT
from mailcapture.storage.base import MessageDetail
from mailcapture.web import json as mj
from mailcapture.web import notify
from mailcapture.web.common import STATS, ctx_of, detail_or_404, json_ok, json_ok_offloaded, resolve_id
from mailcapture.web.headers import first, parse_header_block

# Decoding more than this many bytes of body happens in a worker thread, off the event loop.
DECODE_INLINE_MAX = 256 * 1024

# Served as a download, never rendered by the browser on our origin (Mailpit does the same).
ACTIVE_CONTENT_TYPES = frozenset({
    "text/html", "text/xml", "application/xhtml+xml", "image/svg+xml", "application/xml", "text/xsl",
})


async def body_text(ctx: Context, detail: MessageDetail, kind: str) -> str:
    """The decoded text/plain (KIND_TEXT) or text/html (KIND_HTML) body, "" when there is none."""
    rec = next((p for p in detail.parts if p.kind == kind), None)
    if rec is None:
        return ""
    found = await ctx.store.part(detail.id, rec.part_id)
    if found is None:
        return ""
    stored, data = found
    if len(data) > DECODE_INLINE_MAX:
        return await asyncio.to_thread(decode_text, data, stored.charset)
    return decode_text(data, stored.charset)


async def header_map(ctx: Context, detail: MessageDetail) -> dict[str, list[str]]:
    block = await ctx.store.raw_range(detail.id, 0, detail.header_end)
    if block is None:
        raise NotFound(f"message {detail.id!r} not found")
    return parse_header_block(block)


async def get_message(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    detail = await detail_or_404(request)
    headers = await header_map(ctx, detail)
    text = await body_text(ctx, detail, KIND_TEXT)
    html = await body_text(ctx, detail, KIND_HTML)
    if not detail.read:
        await ctx.store.mark_read([detail.id], None, True)
        detail.read = True
        notify.updated(ctx, [detail.id], Read=True)
        request.app[STATS].changed()
    body = mj.message(detail, text, html,
                      first(headers, "List-Unsubscribe"), first(headers, "List-Unsubscribe-Post"))
    return await json_ok_offloaded(body, len(text) + len(html), DECODE_INLINE_MAX)


async def get_headers(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    detail = await detail_or_404(request)
    return json_ok(await header_map(ctx, detail))


async def get_raw(request: web.Request) -> web.Response:
    msg_id = await resolve_id(request)
    raw = await ctx_of(request).store.raw(msg_id)
    if raw is None:
        raise NotFound(f"message {msg_id!r} not found")
    resp = web.Response(body=raw, content_type="text/plain", charset="utf-8")
    if request.query.get("dl") == "1":
        resp.headers["Content-Disposition"] = f'attachment; filename="{msg_id}.eml"'
    return resp


def content_disposition(disposition: str, filename: str) -> str:
    return f'{disposition}; filename="{quote(filename, safe="")}"'


async def get_part(request: web.Request) -> web.Response:
    msg_id = await resolve_id(request)
    part_id = request.match_info["part_id"]
    found = await ctx_of(request).store.part(msg_id, part_id)
    if found is None:
        raise NotFound(f"part {part_id!r} of message {msg_id!r} not found")
    rec, data = found
    content_type, disposition = rec.content_type or "application/octet-stream", "inline"
    if content_type in ACTIVE_CONTENT_TYPES:
        content_type, disposition = "application/octet-stream", "attachment"
    resp = web.Response(body=data)
    resp.content_type = content_type
    if rec.charset and content_type.startswith("text/"):
        resp.charset = rec.charset
    resp.headers["Content-Disposition"] = content_disposition(disposition, rec.filename or rec.content_id)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
