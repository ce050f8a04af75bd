"""Real helper processes and servers for the browser tests: the capture service with its inbox,
the previewer, and a "collector" that records every request a hostile mail might make."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.support import CaptureProcess

PIXEL_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_capture(data_dir: Path, **env: str) -> CaptureProcess:
    """The real ``mailcapture serve`` (its app serves the inbox at ``/``)."""
    return CaptureProcess(data_dir, dict(env)).start()


@dataclass
class Stack:
    capture: CaptureProcess
    previewer: object | None = None  # tests.previewer.conftest.PreviewerProcess

    @property
    def base(self) -> str:
        return self.capture.base

    @property
    def smtp_port(self) -> int:
        return self.capture.smtp_port


@dataclass
class Collector:
    """A real HTTP server (own thread and loop) counting every path requested of it."""

    hits: Counter[str] = field(default_factory=Counter)
    url: str = ""

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _any(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if request.path.endswith((".png", ".gif")):
            return web.Response(body=PIXEL_GIF, content_type="image/gif")
        if request.path.endswith(".js"):
            return web.Response(text="parent.pwned = 'remote script';", content_type="text/javascript")
        if request.path.endswith(".css"):
            return web.Response(text="body { background: red; }", content_type="text/css")
        return web.Response(text="collected")

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def start(self) -> Collector:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
