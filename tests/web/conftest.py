"""The web app on a real SQLite store, served over real HTTP by aiohttp's test server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailcapture.context import Context
from mailcapture.events import EVENT_NEW, EventBus
from mailcapture.ingest import attachment_count, prepare
from mailcapture.settings import load_settings
from mailcapture.storage.base import MessageSummary
from mailcapture.storage.sqlite import SQLiteStore
from mailcapture.web.app import make_app
from mailcapture.web.json import summary_json

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005"
    "0001ff5ccc0a4b0000000049454e44ae426082"
)


def make_mail(subject: str = "Hello", *, to: str = "Bob <bob@example.com>", tags: str = "",
              text: str | None = None, html: str | None = None, attachment: bytes | None = None,
              inline_png: bool = False, headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    if tags:
        msg["X-Tags"] = tags
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text if text is not None else f"Plain body of {subject}")
    msg.add_alternative(html if html is not None else f"<p>HTML of <b>{subject}</b></p>", subtype="html")
    if inline_png:
        html_part = msg.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(PNG_1PX, maintype="image", subtype="png", cid="<logo@example.com>",
                              disposition="inline", filename="logo.png")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="image", subtype="png", filename="dot.png")
    return msg


@dataclass
class WebEnv:
    ctx: Context
    client: TestClient[web.Request, web.Application]

    async def deliver(self, msg: EmailMessage | bytes, rcpts: list[str] | None = None,
                      mail_from: str = "alice@example.com", username: str = "") -> str:
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        return await self.ctx.accept(raw, mail_from, rcpts or ["bob@example.com"], username)

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        async with self.client.request(method, path, **kwargs) as resp:
            body = await resp.read()
            assert resp.status == expect, (resp.status, body[:500])
            if resp.content_type == "application/json":
                return json.loads(body)
            return body

    async def error(self, method: str, path: str, expect: int, **kwargs: Any) -> str:
        """The request must fail with ``expect`` and the one error shape; returns the message."""
        async with self.client.request(method, path, **kwargs) as resp:
            assert resp.status == expect, (resp.status, await resp.text())
            assert resp.content_type == "application/json"
            body = await resp.json()
        assert set(body) == {"Error", "Status"} and body["Status"] == expect
        assert isinstance(body["Error"], str) and body["Error"]
        return body["Error"]


EnvFactory = Callable[..., Awaitable[WebEnv]]


@pytest.fixture
async def make_env(tmp_path: Path, aiohttp_client: Any) -> AsyncIterator[EnvFactory]:
    stores: list[SQLiteStore] = []

    async def factory(previewer_url: str = "", http: Any = None, **env: str) -> WebEnv:
        settings = load_settings(env={"MAILCAPTURE_DATA_DIR": str(tmp_path),
                                      "MAILCAPTURE_PREVIEWER_URL": previewer_url, **env})
        store = SQLiteStore(str(tmp_path / settings.db_file))
        await store.open()
        stores.append(store)
        events = EventBus()

        async def accept(raw: bytes, mail_from: str, rcpts: list[str], username: str) -> str:
            message = await asyncio.to_thread(prepare, raw, mail_from, rcpts, username)
            msg_id = await store.add(message)
            events.publish(EVENT_NEW, summary_json(MessageSummary(
                id=msg_id, message_id=message.message_id, read=False, from_=message.from_, to=message.to,
                cc=message.cc, bcc=message.bcc, reply_to=message.reply_to, subject=message.subject,
                created=message.created, username=username, tags=message.tags, size=len(raw),
                attachments=attachment_count(message), snippet=message.snippet)))
            return msg_id

        ctx = Context(settings=settings, store=store, events=events, accept=accept, http=http)
        client = await aiohttp_client(make_app(ctx))
        return WebEnv(ctx, client)

    yield factory
    for store in stores:
        await store.close()


@pytest.fixture
async def env(make_env: EnvFactory) -> WebEnv:
    return await make_env()

