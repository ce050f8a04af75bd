"""Real helper processes and servers for the browser tests: the capture service with its inbox,
the previewer, and a "collector" that records every request a hostile mail might make."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.support import READY_TIMEOUT, ROOT, CaptureProcess

STOP_TIMEOUT = 15.0
OUTPUT_LINES = 2000
WIRING_DIR = Path(__file__).resolve().parent / "wiring"
PIXEL_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def capture_env(**env: str) -> dict[str, str]:
    """Env for a capture subprocess whose app serves the inbox (see wiring/sitecustomize.py)."""
    paths = [str(WIRING_DIR), str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(paths), **env}


class InboxCapture(CaptureProcess):
    """``CaptureProcess`` with a start that cannot miss the ready line.

    ``CaptureProcess.start`` waits with ``select`` on a buffered text pipe: when the ready line
    arrives in the same read as the log lines before it, it sits in Python's buffer, ``select``
    never fires again, and start times out. Reading lines in a thread avoids that.
    """

    def start(self) -> InboxCapture:
        env = dict(os.environ)
        env.update({
            "MAILCAPTURE_SMTP_ADDR": "127.0.0.1:0",
            "MAILCAPTURE_HTTP_ADDR": "127.0.0.1:0",
            "MAILCAPTURE_DATA_DIR": str(self.data_dir),
            "MAILCAPTURE_PREVIEWER_URL": "",
        })
        env.update(self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailcapture", "serve"], env=env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        ready = threading.Event()
        stdout = self.proc.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                if len(self.output) < OUTPUT_LINES:
                    self.output.append(line)
                if line.startswith("mailcapture ready") and not ready.is_set():
                    fields = dict(part.split("=") for part in line.split()[2:])
                    self.smtp_port, self.http_port = int(fields["smtp"]), int(fields["http"])
                    ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(READY_TIMEOUT):
            self.stop()
            raise RuntimeError("mailcapture did not start:\n" + "".join(self.output))
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self._reader.join(STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        code = self.proc.returncode
        self.proc = None
        return code


def start_capture(data_dir: Path, **env: str) -> InboxCapture:
    return InboxCapture(data_dir, capture_env(**env)).start()


@dataclass
class Stack:
    capture: InboxCapture
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
