"""The whole stack as `make run` and the container start it: supervisor, nginx, both services.

Started through docker/entrypoint.sh (outside Docker), on free ports, and checked through nginx.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import psutil
import pytest
from PIL import Image

from tests.support import ROOT, free_port

NGINX = next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
pytestmark = [
    pytest.mark.nginx,
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (scripts/setup.sh installs it as root)"),
]

START_TIMEOUT = 45.0


def png_bytes(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Stack:
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.http, self.smtp, self.capture, self.previewer = (free_port() for _ in range(4))
        self.log = self.tmp / "stack.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    def start(self, ready_port: int | None = None) -> Stack:
        env = dict(os.environ)
        env.update({
            "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
            "MAILCAPTURE_DATA_DIR": str(self.tmp / "data"),
            "PREVIEWER_CACHE_DIR": str(self.tmp / "data" / "previews"),
            "STACK_RUNTIME_DIR": str(self.tmp / "run"),
            "STACK_HTTP_ADDR": f"127.0.0.1:{self.http}",
            "MAILCAPTURE_SMTP_ADDR": f"127.0.0.1:{self.smtp}",
            "MAILCAPTURE_HTTP_ADDR": f"127.0.0.1:{self.capture}",
            "MAILCAPTURE_PREVIEWER_URL": f"http://127.0.0.1:{self.previewer}",
            "PREVIEWER_HTTP_ADDR": f"127.0.0.1:{self.previewer}",
            "PREVIEWER_CAPTURE_URL": f"http://127.0.0.1:{self.capture}",
            "THUMBNAIL_TASK_WORKERS": "1",
            "STACK_TEST_MARK": self.mark,
        })
        env.update(self.extra_env)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([str(ROOT / "docker" / "entrypoint.sh")], env=env, cwd=ROOT,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("stack exited:\n" + self.log.read_text())
            try:
                front = ready_port or self.http
                if (self.get_direct(front, "/readyz")[0] == 200
                        and self.get_direct(self.previewer, "/healthz")[0] == 200):
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("stack did not become ready:\n" + self.log.read_text())

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return self.get_direct(self.http, path)

    @staticmethod
    def get_direct(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def processes(self) -> list[psutil.Process]:
        """Every process started for this stack (they all inherit the test mark)."""
        found = []
        for p in psutil.process_iter():
            try:
                if p.environ().get("STACK_TEST_MARK") == self.mark:
                    found.append(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def previewer_pid(self) -> int | None:
        for p in self.processes():
            try:
                cmd = " ".join(p.cmdline())
            except psutil.NoSuchProcess:
                continue
            if re.search(r"previewer serve$", cmd) and "mailcapture.stack.prefix" not in cmd:
                if p.parent() is not None and "mailcapture.stack.prefix" in " ".join(p.parent().cmdline()):
                    return p.pid
        return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for p in self.processes():  # never leave anything behind, even when a test failed
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator:
    started: list[Stack] = []

    def start(**env: str) -> Stack:
        stack = Stack(tmp_path / f"s{len(started)}", {k: str(v) for k, v in env.items()})
        stack.tmp.mkdir()
        started.append(stack)
        return stack.start()

    yield start
    for stack in started:
        stack.stop()


def send_mail(stack: Stack, subject: str, attachment: bytes | None = None) -> None:
    msg = EmailMessage()
    msg["From"] = "ci@example.com"
    msg["To"] = "dev@example.com"
    msg["Subject"] = subject
    msg.set_content("hello through the stack")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="image", subtype="png", filename="red.png")
    with smtplib.SMTP("127.0.0.1", stack.smtp, timeout=30) as client:
        client.send_message(msg)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def preview_id(stack: Stack) -> str:
    status, _, body = stack.get("/api/v1/messages")
    assert status == 200
    msg_id = json.loads(body)["messages"][0]["ID"]
    detail = json.loads(stack.get(f"/api/v1/message/{msg_id}")[2])
    return detail["Attachments"][0]["PreviewID"]


def test_mail_list_preview_and_events_through_nginx(stack_factory) -> None:
    stack = stack_factory()
    send_mail(stack, "first", png_bytes())
    status, headers, body = stack.get("/api/v1/messages")
    assert status == 200 and json.loads(body)["total"] == 1
    pid = preview_id(stack)
    status, headers, body = stack.get(f"/preview/{pid}?size=256")
    assert status == 200, body[:300]
    assert headers["Content-Type"].startswith("image/")
    with Image.open(io.BytesIO(body)) as img:
        assert max(img.size) == 256
    assert "max-age" in headers.get("Cache-Control", "")
    assert stack.get(f"/internal/blob/{pid}")[0] == 404  # not exposed through the front door

    import asyncio

    async def ws_new_event() -> dict:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{stack.http}/api/events") as ws:
                await asyncio.get_running_loop().run_in_executor(None, send_mail, stack, "second")
                async with asyncio.timeout(15):
                    while True:
                        msg = await ws.receive()
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            raise AssertionError(f"websocket closed: {msg}")
                        event = json.loads(msg.data)
                        if event["Type"] == "new":
                            return event

    event = asyncio.run(ws_new_event())
    assert event["Data"]["Subject"] == "second"


def test_no_upstream_names_localhost_and_ipv6_loopback_does_not_matter(stack_factory) -> None:
    stack = stack_factory()
    conf = (stack.tmp / "run" / "nginx.conf").read_text()
    for line in conf.splitlines():
        if re.match(r"\s*(server|proxy_pass)\s", line):
            assert "localhost" not in line, line
    assert re.search(r"server 127\.0\.0\.1:\d+", conf)
    # ::1 present on this machine: "localhost" may well resolve to it; the stack answers regardless.
    families = {ai[0] for ai in socket.getaddrinfo("localhost", stack.http)}
    assert socket.AF_INET in families or socket.AF_INET6 in families
    assert stack.get("/readyz")[0] == 200
    template = (ROOT / "nginx" / "nginx.conf.template").read_text()
    assert not re.search(r"(proxy_pass|server)\s+(https?://)?localhost", template)


def test_nginx_config_passes_nginx_t(stack_factory) -> None:
    stack = stack_factory()
    conf = stack.tmp / "run" / "nginx.conf"
    result = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_killed_previewer_is_restarted_and_previews_work_again(stack_factory) -> None:
    stack = stack_factory()
    send_mail(stack, "with picture", png_bytes((10, 120, 200)))
    pid = preview_id(stack)
    old = wait_for(stack.previewer_pid, 10, "the previewer process")
    os.kill(old, signal.SIGKILL)
    start = time.monotonic()

    def previews_again() -> bool:
        new = stack.previewer_pid()
        return bool(new and new != old and stack.get(f"/preview/{pid}?size=128")[0] == 200)

    wait_for(previews_again, 10, "previews after kill -9")
    assert time.monotonic() - start < 10


def test_previewer_past_its_memory_limit_exits_logged_and_restarted(stack_factory) -> None:
    stack = stack_factory(THUMBNAIL_MEMORY_LIMIT="1", PREVIEWER_WATCHDOG_INTERVAL="0.5")
    wait_for(lambda: "exited: previewer" in stack.log.read_text(), 20, "the previewer's exit")
    log = stack.log.read_text()
    assert re.search(r"previewer \|.*(memory|RSS)", log, re.IGNORECASE), log[-3000:]
    wait_for(lambda: stack.log.read_text().count("spawned: 'previewer'") >= 2, 20, "a restart")


def test_sigterm_stops_everything(stack_factory) -> None:
    stack = stack_factory()
    assert len(stack.processes()) >= 5  # supervisord, 3 wrappers, services (+ workers, nginx workers)
    assert stack.proc is not None
    stack.proc.send_signal(signal.SIGTERM)
    stack.proc.wait(30)
    wait_for(lambda: not stack.processes(), 15, "every process of the stack to exit")


def test_without_nginx_the_two_services_run_alone_and_say_so(tmp_path: Path) -> None:
    stack = Stack(tmp_path, {"STACK_NGINX": "off"})
    try:
        stack.start(ready_port=stack.capture)
        assert "nginx not found or off" in stack.log.read_text()
        commands = [" ".join(p.cmdline()) for p in stack.processes()]
        assert not [c for c in commands if c.split()[0].endswith("nginx") or "nginx:" in c], commands
        send_mail(stack, "direct", png_bytes())
        stack.http = stack.capture  # the inbox, API and /preview/ on the capture service's own port
        pid = preview_id(stack)
        status, headers, _ = stack.get(f"/preview/{pid}?size=128")
        assert status == 200 and headers["Content-Type"].startswith("image/")
    finally:
        stack.stop()
