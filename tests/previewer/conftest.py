"""Fixtures: a real HTTP origin serving /internal/blob/{id} (stand-in for the capture service) and the
real previewer started as a subprocess (``python -m previewer serve``) with its real worker processes."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.support import ThreadedApp

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LISTENING = re.compile(r"previewer: listening on (http://\S+)")
STREAM_CHUNK = 64 * 1024
LOG_LINES = 2000


@dataclass
class BlobSpec:
    data: bytes
    content_type: str
    delay: float = 0.0
    chunked: bool = False
    cut_after: int = 0  # > 0: the connection drops after this many bytes of the body


class Origin(ThreadedApp):
    """Serves /internal/blob/{id} like the capture service (a real server, in its own thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.blobs: dict[str, BlobSpec] = {}
        self.hits: collections.Counter[str] = collections.Counter()

    def add(self, data: bytes, content_type: str = "application/octet-stream", delay: float = 0.0,
            chunked: bool = False, cut_after: int = 0) -> str:
        blob_id = hashlib.sha256(data).hexdigest()
        self.blobs[blob_id] = BlobSpec(data, content_type, delay, chunked, cut_after)
        return blob_id

    async def _blob(self, request: web.Request) -> web.StreamResponse:
        blob_id = request.match_info["id"]
        self.hits[blob_id] += 1
        spec = self.blobs.get(blob_id)
        if spec is None:
            return web.json_response({"Error": "not found", "Status": 404}, status=404)
        if spec.delay:
            await asyncio.sleep(spec.delay)
        headers = {"Content-Type": spec.content_type, "X-Filename": "attachment"}
        if spec.cut_after:
            resp = web.StreamResponse(headers=headers)
            resp.content_length = len(spec.data)
            await resp.prepare(request)
            await resp.write(spec.data[:spec.cut_after])
            assert request.transport is not None
            request.transport.close()  # the capture service went away mid-body
            return resp
        if not spec.chunked:
            return web.Response(body=spec.data, headers=headers)
        resp = web.StreamResponse(headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(spec.data), STREAM_CHUNK):
            await resp.write(spec.data[i:i + STREAM_CHUNK])
        await resp.write_eof()
        return resp

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/internal/blob/{id}", self._blob)


class PreviewerProcess:
    """``python -m previewer serve`` on an ephemeral port, its stderr collected in a thread."""

    def __init__(self, origin_url: str, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.tmpdir = workdir / "tmp"
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "PREVIEWER_HTTP_ADDR": "127.0.0.1:0", "PREVIEWER_CAPTURE_URL": origin_url,
                    "PREVIEWER_CACHE_DIR": str(workdir / "cache"), "PREVIEWER_TEST_HOOKS": "true",
                    "THUMBNAIL_TASK_WORKERS": "2", "THUMBNAIL_TASK_TIMEOUT": "20", "PREVIEWER_LOG_LEVEL": "INFO",
                    "TMPDIR": str(self.tmpdir), "PYTHONPATH": str(ROOT)}
        for name in ("LD_PRELOAD", "PREVIEWER_JEMALLOC_REEXEC"):
            self.env.pop(name, None)
        self.env.update(env)
        self.lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self, wait_ready: bool = True) -> PreviewerProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "previewer", "serve"], env=self.env, cwd=self.workdir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait_ready:
            if not self._listening.wait(START_TIMEOUT):
                code = self.stop()
                raise AssertionError(f"previewer did not start (exit code {code}):\n{self.log}")
            self._wait_ready()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            match = LISTENING.search(line)
            if match:
                self.url = match.group(1)
                self._listening.set()
        self.proc.stderr.close()

    def _wait_ready(self) -> None:
        import urllib.request

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"previewer never became ready:\n{self.log}")

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        return code

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        return self.proc.returncode


@pytest.fixture(scope="session")
def origin() -> Iterator[Origin]:
    server = Origin()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def previewer(origin: Origin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreviewerProcess]:
    """The shared previewer: 2 workers per queue, cache on, test hooks on."""
    proc = PreviewerProcess(origin.url, tmp_path_factory.mktemp("previewer")).start()
    yield proc
    proc.stop()


@pytest.fixture
def start_previewer(origin: Origin, tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Start a previewer with its own settings (stopped at the end of the test)."""
    started: list[PreviewerProcess] = []

    def start(wait_ready: bool = True, **env: str) -> PreviewerProcess:
        proc = PreviewerProcess(origin.url, tmp_path / f"p{len(started)}", **env)
        started.append(proc)
        return proc.start(wait_ready)

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def get_metrics(http: aiohttp.ClientSession, base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    async with http.get(base + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
