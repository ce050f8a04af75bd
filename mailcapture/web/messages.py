"""``/api/v1/messages`` and ``/api/v1/search``: listing, read state, deletion."""

from __future__ import annotations

from aiohttp import web

from mailcapture.errors import BadRequest
from mailcapture.search import Query, Term, parse
from mailcapture.web import json as mj
from mailcapture.web import notify
from mailcapture.web.common import (
    STATS,
    COUNTERS,
    ctx_of,
    json_body,
    json_ok,
    required_query,
    start_limit,
    str_list,
    text_ok,
)

_UNREAD = Term("is", "unread")


async def list_messages(request: web.Request) -> web.Response:
    start, limit = start_limit(request)
    ctx = ctx_of(request)
    result = await ctx.store.page(None, start, limit)
    return json_ok(mj.page(result, start, await ctx.store.tags()))


async def search(request: web.Request) -> web.Response:
    query = required_query(request)
    start, limit = start_limit(request)
    ctx = ctx_of(request)
    result = await ctx.store.page(query, start, limit)
    unread = await ctx.store.page(Query(query.terms + (_UNREAD,), query.source), 0, 0)
    return json_ok(mj.page(result, start, await ctx.store.tags(), unread_matched=unread.matched))


async def set_read(request: web.Request) -> web.Response:
    data = await json_body(request)
    ids = str_list(data, "IDs")
    read = data.get("Read", False)
    if not isinstance(read, bool):
        raise BadRequest("Read must be true or false")
    search_text = data.get("Search") or ""
    if not isinstance(search_text, str):
        raise BadRequest("Search must be a string")
    search_text = search_text.strip()
    if ids and search_text:
        raise BadRequest("you may specify either IDs or a search query, not both")
    ctx = ctx_of(request)
    if search_text:
        changed = await ctx.store.mark_read(None, parse(search_text, request.query.get("tz", "")), read)
    else:
        changed = await ctx.store.mark_read(ids or None, None, read)
    notify.updated(ctx, changed, Read=read)
    request.app[STATS].changed()
    return text_ok()


async def delete_messages(request: web.Request) -> web.Response:
    data = await json_body(request, allow_empty=True)
    ids = str_list(data, "IDs")
    ctx = ctx_of(request)
    everything = not ids
    removed = await ctx.store.delete(None if everything else ids)
    request.app[COUNTERS].messages_deleted += len(removed)
    notify.deleted(ctx, removed, everything)
    request.app[STATS].changed()
    return text_ok()


async def delete_search(request: web.Request) -> web.Response:
    query = required_query(request)
    ctx = ctx_of(request)
    removed = await ctx.store.delete_matching(query)
    request.app[COUNTERS].messages_deleted += len(removed)
    notify.deleted(ctx, removed, everything=False)
    request.app[STATS].changed()
    return text_ok()
