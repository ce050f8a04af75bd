"""Helpers for tests that run the real services as subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0
SERVER_START_TIMEOUT = 10.0


def free_port() -> int:
    """A port free on 127.0.0.1 now (for services that must be told their port in advance)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedApp:
    """A real aiohttp app on 127.0.0.1:0 in its own thread and event loop, for synchronous tests.
    Subclasses add their routes in :meth:`routes`."""

    def __init__(self) -> None:
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _start(self) -> str:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(SERVER_START_TIMEOUT)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(SERVER_START_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(SERVER_START_TIMEOUT)
        self._loop.close()


@dataclass
class CaptureProcess:
    """A running ``mailcapture serve`` on ephemeral ports."""

    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    smtp_port: int = 0
    http_port: int = 0
    output: list[str] = field(default_factory=list)
    _pump_thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> CaptureProcess:
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
        lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, args=(lines,), daemon=True)
        self._pump_thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            if line.startswith("mailcapture ready"):
                fields = dict(part.split("=") for part in line.split()[2:])
                self.smtp_port, self.http_port = int(fields["smtp"]), int(fields["http"])
                return self
        self.stop()
        raise RuntimeError("mailcapture did not start:\n" + "".join(self.output))

    def _pump(self, lines: queue.Queue[str | None]) -> None:
        """Collect the process output (a thread: reading a pipe blocks)."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            self.output.append(line)
            lines.put(line)
        lines.put(None)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._pump_thread is not None:
            self._pump_thread.join(10)
            self._pump_thread = None
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    # -- HTTP helpers (blocking: these tests are synchronous)
    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, _, payload = self.request(method, path, body)
        assert status == expect, (status, payload[:500])
        return json.loads(payload)
