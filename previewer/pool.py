"""Worker processes behind bounded queues: one :class:`Lane` per queue (image, document, video).

Each lane owns a bounded asyncio queue and ``THUMBNAIL_TASK_WORKERS`` slots; each slot owns one
worker process (``python -m previewer.worker <queue>``) and feeds it one job at a time over pipes.
A job past THUMBNAIL_TASK_TIMEOUT gets its worker killed (SIGKILL) and replaced; a worker above its
memory budget is replaced between jobs; a crashed worker is replaced and its job answered 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from previewer.errors import Busy, Corrupt, PreviewError, Timeout, WrongQueue, from_code
from previewer.fetch import Download
from previewer.metrics import Metrics
from previewer.protocol import STREAM_ABORT, STREAM_END, Header, ProtocolError, data_prefix, encode, read_frame_async

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0  # a worker must finish its imports within this
STOP_TIMEOUT = 2.0
RESTART_BACKOFF = 1.0
PIPE_LIMIT = 1 << 20
PIPE_BUFFER = 1 << 20  # the kernel's default /proc/sys/fs/pipe-max-size
CONFIG_ENV = "PREVIEWER_WORKER_CONFIG"


@dataclass(frozen=True)
class Result:
    data: bytes
    mime: str
    ext: str
    width: int
    height: int
    elapsed: float


@dataclass
class Job:
    fmt: str
    size: int
    payload: bytes
    path: str | None
    input_size: int
    future: asyncio.Future[Result] = field(repr=False)
    stream: Download | None = None  # the rest of the input, passed on as it arrives (payload = its head)
    store: dict[str, Any] | None = None  # the worker reads the input itself from the capture store (direct read)


@dataclass(frozen=True)
class LaneConfig:
    workers: int
    queue_size: int
    timeout: float
    worker_memory_limit: int
    worker_config: dict[str, Any]
    temp_root: str


class WorkerProcess:
    """One worker process and its private temp dir."""

    def __init__(self, queue: str, config: LaneConfig) -> None:
        self.queue = queue
        self._config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.tempdir = ""
        self.info: Header = {}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        self.tempdir = tempfile.mkdtemp(prefix=f"worker-{self.queue}-", dir=self._config.temp_root)
        env = dict(os.environ)
        env[CONFIG_ENV] = json.dumps(self._config.worker_config)
        env["TMPDIR"] = self.tempdir
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "previewer.worker", self.queue,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, limit=PIPE_LIMIT)
        assert self.proc.stdout is not None
        _widen_pipes(self.proc)
        try:
            header, _ = await asyncio.wait_for(read_frame_async(self.proc.stdout), READY_TIMEOUT)
        except (asyncio.IncompleteReadError, ProtocolError, TimeoutError) as exc:
            await self.kill()
            code = self.proc.returncode
            raise RuntimeError(f"{self.queue} worker did not start (exit code {code}; its stderr is above): "
                               f"{exc!r}") from None
        self.info = header

    async def run(self, job: Job) -> tuple[Header, bytes]:
        """One job, one reply. A streamed input is passed on chunk by chunk, then an end (or abort)
        frame; the worker reads up to that frame before it answers, so the pipe stays in step. A failed
        stream raises its error (after the worker's answer to the abort was read)."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        stdin = self.proc.stdin
        header = {"fmt": job.fmt, "size": job.size, "path": job.path, "input_size": job.input_size,
                  "stream": job.stream is not None, "store": job.store}
        stdin.write(encode(header, job.payload if job.path is None else b""))
        failure: PreviewError | None = None
        if job.stream is not None:
            try:
                async for chunk in job.stream.chunks():
                    stdin.write(data_prefix(len(chunk)))
                    stdin.write(chunk)
                    await stdin.drain()
            except PreviewError as exc:
                failure = exc
                stdin.write(encode(STREAM_ABORT))
            else:
                stdin.write(STREAM_END)
        await stdin.drain()
        reply = await read_frame_async(self.proc.stdout)
        if failure is not None:
            raise failure
        return reply

    async def kill(self) -> None:
        """SIGKILL, reap, remove its temp dir."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            await self.proc.wait()
        await self._cleanup()

    async def stop(self) -> None:
        """Close stdin (the worker exits at end of input); kill when it does not."""
        if self.proc is not None and self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                pass
        await self.kill()

    async def _cleanup(self) -> None:
        if self.tempdir:
            path, self.tempdir = self.tempdir, ""
            await asyncio.to_thread(shutil.rmtree, path, True)


def _widen_pipes(proc: asyncio.subprocess.Process) -> None:
    """Grow both pipes from 64 KiB to PIPE_BUFFER (Linux): an input streamed to a worker is written
    ahead of the decoder without a context switch per 64 KiB."""
    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    for stream in (proc.stdin, proc.stdout):
        transport = getattr(stream, "transport", None) or getattr(stream, "_transport", None)
        pipe = transport.get_extra_info("pipe") if transport is not None else None
        if pipe is None:
            continue
        with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size, or not a pipe
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BUFFER)


class Lane:
    """A bounded queue and its worker slots."""

    def __init__(self, name: str, config: LaneConfig, metrics: Metrics) -> None:
        self.name = name
        self.config = config
        self.metrics = metrics
        self.queue: asyncio.Queue[Job] = asyncio.Queue(config.queue_size)
        self.workers: list[WorkerProcess | None] = [None] * config.workers
        self.busy = 0
        self._tasks: list[asyncio.Task[None]] = []
        metrics.queue_capacity.labels(name).set(config.queue_size)
        metrics.queue_depth.labels(name).set(0)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(i) for i in range(len(self.workers))))
        self._tasks = [asyncio.create_task(self._slot(i), name=f"{self.name}-slot-{i}")
                       for i in range(len(self.workers))]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self.queue.empty():
            job = self.queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(Busy("the previewer is shutting down"))
        await asyncio.gather(*(w.stop() for w in self.workers if w is not None), return_exceptions=True)

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w is not None and w.alive and w.pid is not None]

    @property
    def ready(self) -> bool:
        return all(w is not None and w.alive for w in self.workers)

    def idle_slot(self) -> bool:
        """A job submitted now starts at once (no queued job, a live worker not busy)."""
        live = sum(1 for w in self.workers if w is not None and w.alive)
        return self.queue.qsize() + self.busy < live

    # ------------------------------------------------------------ submit
    def submit(self, job: Job, background: bool = False, retry_after: int = 2) -> None:
        """Queue a job or raise Busy (503). Background work (prewarm) leaves half the queue free."""
        limit = max(1, self.queue.maxsize // 2) if background else self.queue.maxsize
        if self.queue.qsize() >= limit:
            self.metrics.busy.labels(self.name).inc()
            raise Busy(f"the {self.name} queue is full ({self.queue.maxsize} waiting); try again later",
                       retry_after)
        self.queue.put_nowait(job)
        self.metrics.queue_depth.labels(self.name).set(self.queue.qsize())

    # ------------------------------------------------------------ slots
    async def _spawn(self, i: int) -> WorkerProcess:
        worker = WorkerProcess(self.name, self.config)
        await worker.start()
        self.workers[i] = worker
        log.debug("%s worker %d started (pid %s, %.3f s)", self.name, i, worker.pid, worker.info.get("startup"))
        return worker

    async def _replace(self, i: int, reason: str) -> None:
        old = self.workers[i]
        self.workers[i] = None
        if old is not None:
            await old.kill()
        self.metrics.worker_restarts.labels(self.name, reason).inc()
        while True:
            try:
                await self._spawn(i)
                return
            except (RuntimeError, OSError) as exc:
                log.error("%s worker %d could not be restarted: %s", self.name, i, exc)
                await asyncio.sleep(RESTART_BACKOFF)

    async def _slot(self, i: int) -> None:
        while True:
            job = await self.queue.get()
            self.metrics.queue_depth.labels(self.name).set(self.queue.qsize())
            if job.future.done():
                continue
            worker = self.workers[i]
            if worker is None or not worker.alive:
                await self._replace(i, "crash")
                worker = self.workers[i]
                assert worker is not None
            self.busy += 1
            self.metrics.workers_busy.labels(self.name).set(self.busy)
            started = time.perf_counter()
            try:
                outcome = await self._run(i, worker, job)
            finally:
                self.busy -= 1
            elapsed = time.perf_counter() - started
            await asyncio.sleep(0)  # the waiter answers its client first; the bookkeeping can wait a turn
            self.metrics.workers_busy.labels(self.name).set(self.busy)
            self.metrics.task_duration.labels(self.name, outcome).observe(elapsed)
            self.metrics.tasks.labels(self.name, outcome).inc()

    async def _run(self, i: int, worker: WorkerProcess, job: Job) -> str:
        try:
            async with asyncio.timeout(self.config.timeout):  # no extra task, unlike wait_for
                header, data = await worker.run(job)
        except PreviewError as exc:  # the streamed input failed (too large, upstream gone); worker in step
            _fail(job, exc)
            return "error"
        except TimeoutError:
            await worker.kill()
            self.metrics.task_timeouts.labels(self.name).inc()
            _fail(job, Timeout(f"{self.name} task took longer than THUMBNAIL_TASK_TIMEOUT "
                               f"({self.config.timeout:g} s); its worker was killed"))
            await self._replace(i, "timeout")
            return "timeout"
        except (asyncio.IncompleteReadError, ProtocolError, BrokenPipeError, ConnectionResetError) as exc:
            await worker.kill()
            code = worker.proc.returncode if worker.proc is not None else None
            log.warning("%s worker pid %s died on a %s input (exit %s): %r",
                        self.name, worker.pid, job.fmt, code, exc)
            _fail(job, Corrupt(f"the {job.fmt.upper()} decoder crashed on this file (exit code {code})"))
            await self._replace(i, "crash")
            return "crash"
        if header.get("ok"):
            _succeed(job, Result(data, str(header["mime"]), str(header["ext"]), int(header["width"]),
                                 int(header["height"]), float(header.get("elapsed", 0.0))))
            outcome = "ok"
        elif header.get("code") == WrongQueue.code:  # the job belongs on another queue: the service moves it
            _fail(job, WrongQueue(str(header.get("fmt")), str(header.get("queue"))))
            outcome = "requeue"
        else:
            _fail(job, from_code(str(header.get("code")), str(header.get("message"))))
            outcome = "error"
        self.metrics.render_seconds.labels(job.fmt).observe(float(header.get("elapsed", 0.0)))
        rss = int(header.get("rss", 0))
        if rss > self.config.worker_memory_limit:
            log.info("%s worker pid %s uses %.0f MB (budget %.0f MB): replacing it", self.name, worker.pid,
                     rss / 2**20, self.config.worker_memory_limit / 2**20)
            await self._replace(i, "memory")
        return outcome


def _succeed(job: Job, result: Result) -> None:
    if not job.future.done():
        job.future.set_result(result)


def _fail(job: Job, exc: PreviewError) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
