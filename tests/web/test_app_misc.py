"""The error shape, OpenAPI coverage, /api/v1/info, probes and metrics."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from mailcapture import __version__
from mailcapture.errors import StorageError
from mailcapture.web.app import make_app
from tests.web.conftest import WebEnv, make_mail


async def test_one_error_shape_for_every_kind_of_error(env: WebEnv, aiohttp_client: Any) -> None:
    assert "not found" in (await env.error("GET", "/api/v1/nothing-here", 404)).lower()
    await env.error("POST", "/api/v1/messages", 405)
    await env.error("GET", "/api/v1/message/unknown", 404)
    await env.error("GET", "/api/v1/messages?limit=abc", 400)
    await env.error("PUT", "/api/v1/tags", 400, data=b"[")

    app = make_app(env.ctx)

    async def boom(request: web.Request) -> web.Response:
        raise KeyError("secret detail")

    async def unavailable(request: web.Request) -> web.Response:
        raise StorageError("database is locked")

    app.router.add_get("/boom", boom)
    app.router.add_get("/unavailable", unavailable)
    client = await aiohttp_client(app)
    async with client.get("/boom") as resp:
        assert resp.status == 500
        body = await resp.json()
    assert body == {"Error": "internal server error", "Status": 500}  # no internals leak
    async with client.get("/unavailable") as resp:
        assert resp.status == 503 and await resp.json() == {"Error": "database is locked", "Status": 503}
    async with client.post("/api/v1/messages") as resp:
        assert "GET" in resp.headers["Allow"]


async def test_openapi_describes_every_route(env: WebEnv) -> None:
    doc = await env.call("GET", "/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.")

    def norm(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    documented = {(method.upper(), norm(path)) for path, ops in doc["paths"].items() for method in ops}
    registered = {(route.method, norm(route.resource.canonical))
                  for route in env.client.app.router.routes()
                  if route.method != "HEAD" and route.resource is not None}
    assert registered and registered == documented
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["summary"] and op["responses"]
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(doc).replace("'", '"')))
    assert refs <= set(doc["components"]["schemas"])


async def test_info(env: WebEnv) -> None:
    a = await env.deliver(make_mail("one", tags="t1"))
    await env.deliver(make_mail("two", tags="t1, t2"))
    await env.call("GET", f"/api/v1/message/{a}")
    info = await env.call("GET", "/api/v1/info")
    assert info["Version"] == __version__
    assert info["Messages"] == 2 and info["Unread"] == 1
    assert info["Tags"] == {"t1": 2, "t2": 1}
    assert info["Database"].endswith("mailcapture.db") and info["DatabaseSize"] > 0
    stats = info["RuntimeStats"]
    assert set(stats) == {"Uptime", "Memory", "MessagesDeleted", "SMTPAccepted", "SMTPAcceptedSize",
                          "SMTPRejected", "SMTPIgnored"}
    assert stats["Memory"] > 10 * 1024 * 1024 and stats["Uptime"] >= 0
    assert stats["SMTPAccepted"] == 2 and stats["SMTPAcceptedSize"] > 0


async def test_probes_and_metrics(env: WebEnv) -> None:
    assert await env.call("GET", "/livez") == b"ok"
    assert await env.call("HEAD", "/readyz") == b""
    assert await env.call("GET", "/readyz") == b"ok"
    await env.deliver(make_mail("m"))
    text = (await env.call("GET", "/metrics")).decode()
    assert "mailcapture_messages 1" in text and "mailcapture_messages_unread 1" in text


async def test_the_inbox_is_served(env: WebEnv) -> None:
    async with env.client.get("/") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "Content-Security-Policy" in resp.headers
        assert "<html" in (await resp.text()).lower()
    await env.error("GET", "/ui/no-such-file.js", 404)
