"""Real helper processes and servers for the browser tests: the capture service with its inbox,
the previewer, and a "collector" that records every request a hostile mail might make."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from tests.support import CaptureProcess, ThreadedApp, free_port

PIXEL_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


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


class Collector(ThreadedApp):
    """A real HTTP server (own thread and loop) counting every path requested of it."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: Counter[str] = Counter()

    async def _any(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if request.path.endswith((".png", ".gif")):
            return web.Response(body=PIXEL_GIF, content_type="image/gif")
        if request.path.endswith(".js"):
            return web.Response(text="parent.pwned = 'remote script';", content_type="text/javascript")
        if request.path.endswith(".css"):
            return web.Response(text="body { background: red; }", content_type="text/css")
        return web.Response(text="collected")

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._any)
