"""Start the whole stack (docker/entrypoint.sh outside Docker: supervisor, nginx, capture service, previewer) on
free 127.0.0.1 ports, wait until it answers, account its CPU, and stop it leaving nothing behind.

The start mirrors tests/stack/test_stack.py: same environment variables, readiness through nginx (/readyz) and
directly at the previewer (/healthz). Every process of the stack inherits ``STACK_BENCH_MARK``, which is how
they are found for CPU accounting and for the final clean-up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
READY_POLL_S = 0.2
HTTP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
LEFTOVER_TIMEOUT_S = 15.0
MARK_ENV = "STACK_BENCH_MARK"


class StackError(RuntimeError):
    """The stack did not start or did not answer as expected."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = HTTP_TIMEOUT_S) -> tuple[int, dict[str, str], bytes]:
    """One GET to 127.0.0.1:port; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def program_of(proc: psutil.Process) -> str:
    """Which part of the stack a process is: nginx, mailcapture, previewer, supervisord, log relay (prefix)."""
    try:
        cmd = " ".join(proc.cmdline())
        name = proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "gone"
    if "mailcapture.stack.prefix" in cmd:
        return "log relay"
    if "supervisord" in cmd or name in ("sh", "dash"):
        return "supervisord"
    if name.startswith("nginx") or cmd.startswith("nginx"):
        return "nginx"
    if "previewer" in cmd:
        return "previewer"
    if "mailcapture" in cmd:
        return "mailcapture"
    return "other"


@dataclass
class Stack:
    """One stack under ``workdir`` (data, runtime dir, log); ports are picked when it is created."""

    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    nice: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.http, self.smtp, self.capture, self.previewer = (free_port() for _ in range(4))
        self.log = self.workdir / "stack.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
            "MAILCAPTURE_DATA_DIR": str(self.workdir / "data"),
            "PREVIEWER_CACHE_DIR": str(self.workdir / "data" / "previews"),
            "STACK_RUNTIME_DIR": str(self.workdir / "run"),
            "STACK_HTTP_ADDR": f"{HOST}:{self.http}",
            "MAILCAPTURE_SMTP_ADDR": f"{HOST}:{self.smtp}",
            "MAILCAPTURE_HTTP_ADDR": f"{HOST}:{self.capture}",
            "MAILCAPTURE_PREVIEWER_URL": f"http://{HOST}:{self.previewer}",
            "PREVIEWER_HTTP_ADDR": f"{HOST}:{self.previewer}",
            "PREVIEWER_CAPTURE_URL": f"http://{HOST}:{self.capture}",
            MARK_ENV: self.mark,
        })
        env.update(self.extra_env)
        return env

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        prefix = ["nice", "-n", str(self.nice)] if self.nice else []
        with self.log.open("wb") as log:
            # `nice` execs the entrypoint, which execs supervisord: SIGTERM to this pid still reaches supervisord
            self.proc = subprocess.Popen([*prefix, str(ROOT / "docker" / "entrypoint.sh")], env=self.env(),
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError("stack exited:\n" + self.log_tail())
            try:
                if http_get(self.http, "/readyz", 5)[0] == 200 and http_get(self.previewer, "/healthz", 5)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(READY_POLL_S)
        raise StackError(f"stack not ready after {START_TIMEOUT_S:.0f} s:\n" + self.log_tail())

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def processes(self) -> list[psutil.Process]:
        """Every process carrying the mark, and their descendants (nginx workers get a cleared environment)."""
        found: dict[int, psutil.Process] = {}
        for p in psutil.process_iter():
            try:
                if p.environ().get(MARK_ENV) == self.mark:
                    found[p.pid] = p
                    for child in p.children(recursive=True):
                        found.setdefault(child.pid, child)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return list(found.values())

    def cpu_snapshot(self) -> dict[int, tuple[str, float]]:
        """pid -> (program, user+system CPU seconds so far) for every process of the stack."""
        snap: dict[int, tuple[str, float]] = {}
        for p in self.processes():
            try:
                t = p.cpu_times()
                snap[p.pid] = (program_of(p), t.user + t.system)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return snap

    def stop(self) -> list[int]:
        """SIGTERM to the entrypoint (supervisord after exec), wait; kill anything left. Returns pids killed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        deadline = time.monotonic() + LEFTOVER_TIMEOUT_S
        while time.monotonic() < deadline and self.processes():
            time.sleep(READY_POLL_S)
        killed = []
        for p in self.processes():
            try:
                p.kill()
                killed.append(p.pid)
            except psutil.NoSuchProcess:
                pass
        return killed


def cpu_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds spent per program between two snapshots (processes started in between count in full)."""
    out: dict[str, float] = {}
    for pid, (program, secs) in after.items():
        spent = secs - before[pid][1] if pid in before else secs
        out[program] = out.get(program, 0.0) + max(spent, 0.0)
    return {k: round(v, 2) for k, v in sorted(out.items())}
