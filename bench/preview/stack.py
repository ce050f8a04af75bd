"""The real services under test as subprocesses: ``mailcapture serve`` (the capture service holding the
inputs) and ``previewer serve`` (with chosen workers, cache and allocator). Also: SMTP delivery of the
inputs and the lookup of their preview ids through ``/api/v1/message/{ID}``. Everything on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import smtplib
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import psutil
from gen_inputs import Input

from mailcapture.storage.sqlite import compaction
from mailcapture.storage.sqlite.schema import Tables

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.05
LOG_LINES = 400
MAX_MESSAGE_SIZE = "100M"  # mails here are at most ~60 MB encoded; within the default memory budget
MAIL_LIMIT_BYTES = 40 * 1024 * 1024  # raw attachment bytes per mail (base64 adds a third)
MAILCAPTURE_READY = re.compile(r"mailcapture ready smtp=(\d+) http=(\d+)")
WORKER_QUEUES = ("image", "document", "video")
PREVIEWER_LISTENING = re.compile(r"previewer: listening on (http://\S+)")


class StackError(RuntimeError):
    """A service did not start, or the capture service did not store what was sent."""


@dataclass
class Service:
    """One subprocess with its output (stdout + stderr) collected in a thread."""
    name: str
    proc: subprocess.Popen[bytes]
    ready_pattern: re.Pattern[str]
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    match: re.Match[str] | None = None
    _event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True, name=f"log-{self.name}").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if self.match is None:
                found = self.ready_pattern.search(line)
                if found:
                    self.match = found
                    self._event.set()

    def wait_started(self) -> re.Match[str]:
        if not self._event.wait(START_TIMEOUT_S) or self.match is None:
            self.stop()
            raise StackError(f"{self.name} did not start:\n" + "\n".join(self.lines))
        return self.match

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tree_rss(self) -> tuple[int, int]:
        """(RSS of this process + all descendants, number of processes)."""
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0, 0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total, len(procs)

    def rss_by_role(self) -> dict[str, int]:
        """RSS by role: "service" (this process) and, for previewer workers (``-m previewer.worker <queue>``),
        their queue name; anything else under "other". Roles are read from each process's command line,
        so replaced workers are counted too."""
        out: dict[str, int] = {}
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return out
        for p in procs:
            try:
                cmd = p.cmdline()
                rss = p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            if p.pid == self.proc.pid:
                role = "service"
            elif "previewer.worker" in cmd and cmd[-1] in WORKER_QUEUES:
                role = cmd[-1]
            else:
                role = "other"
            out[role] = out.get(role, 0) + rss
        return out

    def stop(self) -> None:
        """SIGTERM this process (it stops its own workers); SIGKILL it and its children if it hangs."""
        if self.proc.poll() is not None:
            return
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for child in children:
            try:
                if child.is_running():
                    child.kill()
            except psutil.NoSuchProcess:
                pass


def _spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path, pattern: re.Pattern[str]) -> Service:
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    return Service(name, proc, pattern)


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "PREVIEWER_JEMALLOC_REEXEC"):
        env.pop(name, None)
    return env


@dataclass
class Capture:
    service: Service
    smtp_port: int
    http_url: str


def start_capture(workdir: Path, extra_env: dict[str, str] | None = None) -> Capture:
    """``mailcapture serve`` with no previewer configured (so nothing is prewarmed behind our back);
    ``extra_env`` for what-if runs (e.g. a glibc tunable for the capture service alone)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = _base_env()
    env.update(extra_env or {})
    env.update({"MAILCAPTURE_SMTP_ADDR": f"{HOST}:0", "MAILCAPTURE_HTTP_ADDR": f"{HOST}:0",
                "MAILCAPTURE_DATA_DIR": str(workdir / "data"), "MAILCAPTURE_PREVIEWER_URL": "",
                "MAILCAPTURE_MAX_MESSAGE_SIZE": MAX_MESSAGE_SIZE, "MAILCAPTURE_LOG_LEVEL": "WARNING"})
    service = _spawn("mailcapture", [str(VENV_BIN / "mailcapture"), "serve"], env, workdir, MAILCAPTURE_READY)
    match = service.wait_started()
    return Capture(service, int(match.group(1)), f"http://{HOST}:{match.group(2)}")


def _mails(inputs: list[Input]) -> list[list[Input]]:
    """Group inputs into mails of at most MAIL_LIMIT_BYTES of attachments (one input may exceed it)."""
    groups: list[list[Input]] = [[]]
    size = 0
    for item in inputs:
        if groups[-1] and size + len(item.data) > MAIL_LIMIT_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += len(item.data)
    return [g for g in groups if g]


def deliver(capture: Capture, inputs: list[Input], subject: str) -> int:
    """Send the inputs as attachments over SMTP (smtplib); returns the number of mails."""
    mails = _mails(inputs)
    with smtplib.SMTP(HOST, capture.smtp_port, timeout=120) as smtp:
        for i, group in enumerate(mails):
            msg = EmailMessage()
            msg["From"] = "bench@example.test"
            msg["To"] = "previews@example.test"
            msg["Subject"] = f"{subject} {i + 1}/{len(mails)}"
            msg.set_content(f"{len(group)} benchmark inputs")
            for item in group:
                maintype, subtype = item.content_type.split("/", 1)
                msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.name)
            smtp.send_message(msg)
    return len(mails)


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def wait_decoded(workdir: Path, timeout: float = 300.0) -> float:
    """Wait until the capture service started in ``workdir`` has kept every big base64 part decoded (it does
    so after each 250, in the background: ``mailcapture.storage.sqlite.compaction``); returns the seconds
    waited."""
    started = time.monotonic()
    files = sorted((workdir / "data").glob("*.db"))
    if not files:
        raise StackError(f"no database file in {workdir / 'data'}")
    while True:
        with contextlib.closing(sqlite3.connect(f"file:{files[0]}?mode=ro", uri=True)) as conn:
            left = len(compaction.waiting(conn, Tables("")))
        if not left:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise StackError(f"{left} messages still not kept decoded after {timeout:.0f} s")
        time.sleep(0.2)


def preview_ids(capture: Capture, expected: list[Input]) -> dict[str, str]:
    """sha256 of each expected input -> the PreviewID the capture service reports for it."""
    listing = _get_json(f"{capture.http_url}/api/v1/messages?limit=1000")
    found: dict[str, str] = {}
    for summary in listing["messages"]:  # type: ignore[union-attr]
        detail = _get_json(f"{capture.http_url}/api/v1/message/{summary['ID']}")  # type: ignore[index]
        for att in detail.get("Attachments", []):  # type: ignore[union-attr]
            found[att["Checksums"]["SHA256"]] = att["PreviewID"]
    missing = [i.name for i in expected if i.sha256 not in found]
    if missing:
        raise StackError(f"the capture service did not store {len(missing)} inputs: {missing[:5]}")
    wrong = [i.name for i in expected if found[i.sha256] != i.sha256]
    if wrong:
        raise StackError(f"PreviewID is not the SHA-256 of the bytes for {wrong[:5]}")
    return {i.sha256: found[i.sha256] for i in expected}


@dataclass
class Previewer:
    service: Service
    url: str
    workers: int
    allocator: str  # "jemalloc" | "glibc"
    cache: bool


def start_previewer(workdir: Path, capture_url: str, workers: int, *, cache: bool = False,
                    jemalloc: bool = True, queue_size: int = 64,
                    extra_env: dict[str, str] | None = None) -> Previewer:
    """``previewer serve`` on a free port; cache off = PREVIEWER_CACHE_DIR empty."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = _base_env()
    env.update({"PREVIEWER_HTTP_ADDR": f"{HOST}:0", "PREVIEWER_CAPTURE_URL": capture_url,
                "PREVIEWER_CACHE_DIR": str(workdir / "cache") if cache else "",
                "THUMBNAIL_TASK_WORKERS": str(workers), "PREVIEWER_JEMALLOC": "auto" if jemalloc else "off",
                "PREVIEWER_QUEUE_SIZE": str(queue_size), "PREVIEWER_LOG_LEVEL": "WARNING",
                "THUMBNAIL_TASK_TIMEOUT": "60", "TMPDIR": str(workdir)})
    env.update(extra_env or {})
    service = _spawn("previewer", [str(VENV_BIN / "previewer"), "serve"], env, workdir, PREVIEWER_LISTENING)
    url = service.wait_started().group(1)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        time.sleep(POLL_S)
    else:
        service.stop()
        raise StackError("previewer never became ready:\n" + "\n".join(service.lines))
    health = _get_json(url + "/healthz")
    active = bool(health["jemalloc"]["active"])  # type: ignore[index]
    if active != jemalloc:
        service.stop()
        raise StackError(f"previewer jemalloc active={active}, wanted {jemalloc}")
    return Previewer(service, url, workers, "jemalloc" if active else "glibc", cache)


def health(url: str) -> dict[str, object]:
    return _get_json(url + "/healthz")
