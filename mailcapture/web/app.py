"""The HTTP application: every route of the API in one table (like Mailpit's server.go)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from mailcapture.context import Context
from mailcapture.ui import add_ui_routes
from mailcapture.web import (
    events_ws,
    health,
    info,
    message,
    messages,
    metrics,
    openapi,
    previews,
    send,
    tags,
    view,
)
from mailcapture.web.common import COUNTERS, CTX, STATS, RuntimeCounters
from mailcapture.web.errors import error_middleware
from mailcapture.web.notify import StatsPublisher

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str


MSG = "/api/v1/message/{id}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/messages", messages.list_messages, "List messages, newest first"),
    Route("PUT", "/api/v1/messages", messages.set_read, "Set read status (IDs, Search or all)"),
    Route("DELETE", "/api/v1/messages", messages.delete_messages, "Delete messages (IDs, or all)"),
    Route("GET", "/api/v1/search", messages.search, "Search messages"),
    Route("DELETE", "/api/v1/search", messages.delete_search, "Delete messages matching a search"),
    Route("GET", MSG, message.get_message, "Get a message (marks it read)"),
    Route("GET", MSG + "/headers", message.get_headers, "Get a message's headers"),
    Route("GET", MSG + "/raw", message.get_raw, "Get a message's source"),
    Route("GET", MSG + "/part/{part_id}", message.get_part, "Get a part (attachment or inline)"),
    Route("GET", MSG + "/part/{part_id}/thumb", previews.thumb, "Get a thumbnail of a part"),
    Route("POST", "/api/v1/send", send.send, "Send (inject) a message"),
    Route("GET", "/api/v1/tags", tags.list_tags, "List tags"),
    Route("PUT", "/api/v1/tags", tags.set_tags, "Set the tags of messages"),
    Route("PUT", "/api/v1/tags/{tag}", tags.rename_tag, "Rename a tag"),
    Route("DELETE", "/api/v1/tags/{tag}", tags.delete_tag, "Delete a tag"),
    Route("GET", "/api/v1/info", info.info, "Application information"),
    Route("GET", "/api/v1/openapi.json", openapi.openapi_json, "This OpenAPI document"),
    Route("GET", "/api/events", events_ws.events, "Live events (WebSocket)"),
    Route("GET", "/view/{id}.html", view.view_html, "A message's HTML body"),
    Route("GET", "/view/{id}.txt", view.view_text, "A message's text body"),
    Route("GET", "/preview/{preview_id}", previews.forward_preview, "A preview, from the previewer"),
    Route("GET", "/internal/blob/{sha256}", previews.internal_blob, "Part bytes by SHA-256 (previewer)"),
    Route("GET", "/internal/store", previews.internal_store, "Where the store can be read directly (previewer)"),
    Route("GET", "/livez", health.livez, "Liveness probe"),
    Route("GET", "/readyz", health.readyz, "Readiness probe"),
    Route("GET", "/metrics", metrics.metrics, "Prometheus metrics"),
)


def make_app(ctx: Context) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[CTX] = ctx
    app[COUNTERS] = RuntimeCounters()
    for route in ROUTES:
        if route.method == "GET":
            app.router.add_get(route.path, route.handler)  # HEAD too, for probes and link checkers
        else:
            app.router.add_route(route.method, route.path, route.handler)
    add_ui_routes(app)  # GET / (the web inbox) and GET /ui/{tail} (its static files)
    app[STATS] = StatsPublisher(ctx)
    app.cleanup_ctx.append(events_ws.background_ctx)
    events_ws.track_sockets(app)
    return app
