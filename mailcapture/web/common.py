"""Small helpers every handler module shares: app keys, parameters, bodies, ``latest``."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mailcapture.context import Context
from mailcapture.errors import BadRequest, NotFound, PayloadTooLarge
from mailcapture.search import Query, parse
from mailcapture.storage.base import MessageDetail
from mailcapture.web.notify import StatsPublisher

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
LATEST = "latest"
JSON_BODY_MAX = 1024 * 1024  # bodies of the small JSON endpoints (IDs lists, tags)


@dataclass
class RuntimeCounters:
    """Mailpit's ``RuntimeStats`` counters, for this process since it started."""

    started: float = field(default_factory=time.monotonic)
    messages_deleted: int = 0
    smtp_accepted: int = 0
    smtp_accepted_size: int = 0
    smtp_rejected: int = 0
    smtp_ignored: int = 0


CTX: web.AppKey[Context] = web.AppKey("mailcapture_ctx", Context)
COUNTERS: web.AppKey[RuntimeCounters] = web.AppKey("mailcapture_counters", RuntimeCounters)
STATS: web.AppKey[StatsPublisher] = web.AppKey("mailcapture_stats", StatsPublisher)


def ctx_of(request: web.Request) -> Context:
    return request.app[CTX]


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


async def json_ok_offloaded(data: Any, size_hint: int, inline_max: int = 256 * 1024) -> web.Response:
    """Like :func:`json_ok`, but encodes in a worker thread when the payload is large."""
    if size_hint <= inline_max:
        return json_ok(data)
    text = await asyncio.to_thread(dumps, data)
    return web.Response(text=text, content_type="application/json")


def text_ok(text: str = "ok") -> web.Response:
    """Mailpit answers its write endpoints with ``ok`` as text/plain."""
    return web.Response(text=text, content_type="text/plain")


def int_param(request: web.Request, name: str, default: int, minimum: int = 0,
              maximum: int | None = None) -> int:
    raw = request.query.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise BadRequest(f"{name} must be at most {maximum}, got {value}")
    return value


def start_limit(request: web.Request) -> tuple[int, int]:
    return (int_param(request, "start", 0),
            int_param(request, "limit", DEFAULT_LIMIT, minimum=0, maximum=MAX_LIMIT))


def required_query(request: web.Request) -> Query:
    text = request.query.get("query", "").strip()
    if not text:
        raise BadRequest("no search query")
    return parse(text, request.query.get("tz", ""))


def optional_query(request: web.Request) -> Query | None:
    text = request.query.get("query", "").strip()
    return parse(text, request.query.get("tz", "")) if text else None


def parse_json(body: bytes, *, allow_empty: bool = False) -> dict[str, Any]:
    """Parse a JSON object body; BadRequest on anything else."""
    if not body.strip():
        if allow_empty:
            return {}
        raise BadRequest("request body must be a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


async def json_body(request: web.Request, *, allow_empty: bool = False,
                    max_size: int = JSON_BODY_MAX) -> dict[str, Any]:
    return parse_json(await read_limited(request, max_size), allow_empty=allow_empty)


async def read_limited(request: web.Request, max_size: int) -> bytes:
    """The whole request body, or PayloadTooLarge as soon as it passes ``max_size`` bytes."""
    if request.content_length is not None and request.content_length > max_size:
        raise PayloadTooLarge(f"request body larger than {max_size} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > max_size:
            raise PayloadTooLarge(f"request body larger than {max_size} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def str_list(data: dict[str, Any], key: str) -> list[str] | None:
    """``data[key]`` as a list of strings (None when missing or null); BadRequest otherwise."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{key} must be an array of strings")
    return value


async def resolve_id(request: web.Request) -> str:
    """The ``{id}`` of the path; ``latest`` is the newest message (or newest match of ?query=)."""
    msg_id = request.match_info["id"]
    if msg_id != LATEST:
        return msg_id
    latest = await ctx_of(request).store.latest_id(optional_query(request))
    if latest is None:
        raise NotFound("no messages" if "query" not in request.query else "no message matches the query")
    return latest


async def detail_or_404(request: web.Request) -> MessageDetail:
    msg_id = await resolve_id(request)
    detail = await ctx_of(request).store.detail(msg_id)
    if detail is None:
        raise NotFound(f"message {msg_id!r} not found")
    return detail
