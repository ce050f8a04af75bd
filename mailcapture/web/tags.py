"""``/api/v1/tags``: list, set on messages, rename, delete."""

from __future__ import annotations

from aiohttp import web

from mailcapture import ingest
from mailcapture.errors import BadRequest, NotFound
from mailcapture.web import notify
from mailcapture.web.common import STATS, ctx_of, json_body, json_ok, str_list, text_ok


def clean_tag(raw: str) -> str:
    """A tag as stored, cleaned exactly like tags from X-Tags and plus-addressing."""
    tag = ingest.clean_tag(raw)
    if not tag:
        raise BadRequest(f"invalid tag name {raw!r}: use letters, digits, spaces and . : / @ - _")
    return tag


def clean_tags(raw: list[str]) -> list[str]:
    """Cleaned, without blanks or duplicates (ignoring case), first spelling kept."""
    seen: set[str] = set()
    out: list[str] = []
    for item in raw:
        tag = ingest.clean_tag(item)
        if not tag:
            continue
        if tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return out


async def list_tags(request: web.Request) -> web.Response:
    return json_ok(await ctx_of(request).store.tags())


async def set_tags(request: web.Request) -> web.Response:
    data = await json_body(request)
    ids = str_list(data, "IDs")
    if not ids:
        raise BadRequest("IDs must list at least one message ID")
    tags = clean_tags(str_list(data, "Tags") or [])
    ctx = ctx_of(request)
    await ctx.store.set_tags(ids, tags)
    notify.updated(ctx, ids, Tags=tags)
    return text_ok()


async def rename_tag(request: web.Request) -> web.Response:
    old = request.match_info["tag"]
    data = await json_body(request)
    name = data.get("Name")
    if not isinstance(name, str):
        raise BadRequest("Name must be a string")
    ctx = ctx_of(request)
    if not await ctx.store.rename_tag(old, clean_tag(name)):
        raise NotFound(f"tag {old!r} not found")
    request.app[STATS].changed()
    return text_ok()


async def delete_tag(request: web.Request) -> web.Response:
    tag = request.match_info["tag"]
    ctx = ctx_of(request)
    if not await ctx.store.delete_tag(tag):
        raise NotFound(f"tag {tag!r} not found")
    request.app[STATS].changed()
    return text_ok()
