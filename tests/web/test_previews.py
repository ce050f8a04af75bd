"""Thumbnails, /preview/ forwarding and /internal/blob, with a stand-in previewer on a real port.

The stand-in fetches the part's bytes from our /internal/blob (as the real previewer does) and
answers with them plus the size it was asked for, so both directions go over real HTTP.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mailcapture.web.previews import PLACEHOLDER_PNG
from tests.web.conftest import PNG_1PX, EnvFactory, WebEnv, make_mail

STATE: web.AppKey[dict[str, Any]] = web.AppKey("state", dict)


def _stand_in_previewer() -> web.Application:
    app = web.Application()
    app[STATE] = {"capture": "", "calls": 0}

    async def preview(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        state["calls"] += 1
        pid = request.match_info["pid"]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{state['capture']}/internal/blob/{pid}") as blob:
                if blob.status != 200:
                    return web.json_response({"error": "unknown"}, status=404)
                data = await blob.read()
                assert int(blob.headers["Content-Length"]) == len(data)
                filename = blob.headers["X-Filename"]
        resp = web.Response(body=data, content_type="image/png")
        resp.headers.update({"X-Size": request.query.get("size", ""), "X-Filename": filename,
                             "Cache-Control": "public, max-age=60", "ETag": f'"{pid[:8]}"'})
        return resp

    app.router.add_get("/preview/{pid}", preview)
    return app


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def previewer() -> AsyncIterator[TestServer]:
    server = TestServer(_stand_in_previewer(), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def _with_previewer(make_env: EnvFactory, previewer: TestServer,
                          session: aiohttp.ClientSession) -> WebEnv:
    url = str(previewer.make_url("")).rstrip("/")
    env = await make_env(previewer_url=url, http=session)
    previewer.app[STATE]["capture"] = str(env.client.make_url("")).rstrip("/")
    return env


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_internal_blob_streams_part_bytes(env: WebEnv) -> None:
    await env.deliver(make_mail("blob", attachment=PNG_1PX))
    sha = hashlib.sha256(PNG_1PX).hexdigest()
    async with env.client.get(f"/internal/blob/{sha}") as resp:
        assert resp.status == 200 and await resp.read() == PNG_1PX
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Content-Length"] == str(len(PNG_1PX)) and resp.headers["X-Filename"] == "dot.png"
    await env.error("GET", "/internal/blob/" + "0" * 64, 404)
    await env.error("GET", "/internal/blob/not-a-hash", 404)


async def test_thumb_and_forwarding_through_the_previewer(
        make_env: EnvFactory, previewer: TestServer, session: aiohttp.ClientSession) -> None:
    env = await _with_previewer(make_env, previewer, session)
    msg_id = await env.deliver(make_mail("thumbs", attachment=PNG_1PX))
    full = await env.call("GET", f"/api/v1/message/{msg_id}")
    att = full["Attachments"][0]
    async with env.client.get(f"/api/v1/message/{msg_id}/part/{att['PartID']}/thumb") as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert await resp.read() == PNG_1PX
    async with env.client.get(att["PreviewURL"] + "?size=64") as resp:
        assert resp.status == 200 and await resp.read() == PNG_1PX
        assert resp.headers["Cache-Control"] == "public, max-age=60" and resp.headers["ETag"]
        assert "X-Size" not in resp.headers  # only known headers are passed back
    async with env.client.get("/preview/" + "0" * 64) as resp:
        assert resp.status == 404  # the previewer's own status comes back
    async with env.client.head(att["PreviewURL"]) as resp:
        assert resp.status == 200 and resp.headers["Content-Length"] == str(len(PNG_1PX))
        assert await resp.read() == b""
    assert previewer.app[STATE]["calls"] == 4


async def test_thumb_of_a_text_part_is_a_placeholder(
        make_env: EnvFactory, previewer: TestServer, session: aiohttp.ClientSession) -> None:
    env = await _with_previewer(make_env, previewer, session)
    msg = make_mail("text att")
    msg.add_attachment(b"just text", maintype="text", subtype="plain", filename="a.txt")
    msg_id = await env.deliver(msg)
    part_id = (await env.call("GET", f"/api/v1/message/{msg_id}"))["Attachments"][0]["PartID"]
    body = await env.call("GET", f"/api/v1/message/{msg_id}/part/{part_id}/thumb")
    assert body == PLACEHOLDER_PNG and previewer.app[STATE]["calls"] == 0


async def test_previewer_down(make_env: EnvFactory, session: aiohttp.ClientSession) -> None:
    env = await make_env(previewer_url=f"http://127.0.0.1:{_closed_port()}", http=session)
    msg_id = await env.deliver(make_mail("down", attachment=PNG_1PX))
    part_id = (await env.call("GET", f"/api/v1/message/{msg_id}"))["Attachments"][0]["PartID"]
    async with env.client.get(f"/api/v1/message/{msg_id}/part/{part_id}/thumb") as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert await resp.read() == PLACEHOLDER_PNG
    await env.error("GET", "/preview/" + hashlib.sha256(PNG_1PX).hexdigest(), 502)


async def test_no_previewer_configured(env: WebEnv) -> None:
    msg_id = await env.deliver(make_mail("none", attachment=PNG_1PX))
    part_id = (await env.call("GET", f"/api/v1/message/{msg_id}"))["Attachments"][0]["PartID"]
    assert await env.call("GET", f"/api/v1/message/{msg_id}/part/{part_id}/thumb") == PLACEHOLDER_PNG
    await env.error("GET", "/preview/abc", 503)


def test_placeholder_is_a_valid_png() -> None:
    from PIL import Image
    import io

    with Image.open(io.BytesIO(PLACEHOLDER_PNG)) as img:
        img.load()
        assert img.size == (180, 120)
