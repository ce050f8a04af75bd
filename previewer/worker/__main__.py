"""``python -m previewer.worker <queue>``: one worker process serving frames on stdin/stdout.

Imports only the renderer of its queue (image: Pillow; document: PyMuPDF + Pillow; video: PyAV +
Pillow). Answers a "ready" frame after its imports, then one reply per request. Every failure is
a value in the reply (code + message); the process only ends when stdin closes or it is killed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import select
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from previewer import jemalloc
from previewer.errors import PreviewError, WrongQueue
from previewer.protocol import Header, StreamAborted, StreamedInput, encode, read_frame
from previewer.sniff import sniff
from previewer.worker.failures import RenderFailure
from previewer.worker.output import Rendered
from previewer.worker.source import opened

CONFIG_ENV = "PREVIEWER_WORKER_CONFIG"
HEAVY_MODULES = ("PIL", "fitz", "pymupdf", "av", "aiohttp", "numpy")
PURGE_ABOVE = 8 * 1024 * 1024  # ask jemalloc to give memory back after inputs larger than this...
# ...once the worker has been idle this long: back to back, the next big input would only fault the same
# pages in again (a 64 MP JPEG after a purge: ~5,000 page faults, +5-10 ms on this VM).
PURGE_IDLE_S = 1.0
# Slow queues run at the lowest CPU priority: when the cores are busy with PDFs and videos, image
# thumbnails (what an open inbox waits for) still get the CPU first. SCHED_IDLE (Linux) gives them
# the CPU time nothing else wants (CFS weight 3 against 1024; they still progress, never starve
# outright); nice 10 where SCHED_IDLE is not available.
SLOW_QUEUES = ("document", "video")
FALLBACK_NICENESS = 10


def lower_priority() -> str:
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "idle"
    except (AttributeError, OSError):
        os.nice(FALLBACK_NICENESS)
        return f"nice {FALLBACK_NICENESS}"

# (format, source, size, decoded size limit). The source is a temp file's path or the whole input; only the
# image renderer is also given streamed inputs (a file object), hence Any.
Renderer = Callable[[str, Any, int, int], Rendered]
log = logging.getLogger("previewer.worker")


def load_renderer(queue: str, original_size_limit: int) -> Renderer:
    from previewer.worker import images

    images.configure(original_size_limit)
    if queue == "image":
        return images.render
    if queue == "document":
        from previewer.worker import documents

        return documents.render
    if queue == "video":
        from previewer.worker import videos

        return videos.render
    raise SystemExit(f"unknown queue {queue!r}")


def load_upkeep(queue: str) -> Callable[[], object] | None:
    """What a worker of this queue does between tasks, after each reply (MuPDF's store for documents)."""
    if queue != "document":
        return None
    from previewer.worker import documents

    return documents.store.after_document


def priority() -> str:
    """How this process is scheduled: "idle" (SCHED_IDLE) or "nice N"."""
    try:
        if os.sched_getscheduler(0) == os.SCHED_IDLE:
            return "idle"
    except (AttributeError, OSError):
        pass
    return f"nice {os.nice(0)}"


_statm: int | None = None  # kept open: opening it again after every task cost ~0.1 ms of the reply
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    global _statm
    try:
        if _statm is None:
            _statm = os.open("/proc/self/statm", os.O_RDONLY)
        return int(os.pread(_statm, 256, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def classify(exc: BaseException) -> tuple[str, str]:
    """An unexpected decoder exception -> (code, message). Decoders say 'corrupt' in many ways."""
    if isinstance(exc, (RenderFailure, PreviewError)):  # PreviewError: what sniffing the bytes found
        return exc.code, exc.message
    if isinstance(exc, MemoryError):
        return "too_large", "the decoder ran out of memory"
    if isinstance(exc, StreamAborted):
        return "aborted", "the input stopped arriving"
    text = str(exc) or type(exc).__name__
    return "corrupt", f"cannot decode: {text}"


def handle(render: Renderer, header: Header, source: str | bytes | BinaryIO | io.RawIOBase, test_hooks: bool,
           original_size_limit: int) -> tuple[Header, bytes]:
    fmt = str(header["fmt"])
    size = int(header["size"])
    if fmt == "hook":
        if not test_hooks:
            return {"ok": False, "code": "unsupported", "message": "test hooks are off"}, b""
        from previewer.worker import hooks

        result = hooks.render(source if isinstance(source, (str, bytes)) else source.read(), size)
    else:
        result = render(fmt, source, size, original_size_limit)
    return {"ok": True, "mime": result.mime, "ext": result.ext, "width": result.width,
            "height": result.height}, result.data


def confirmer(header: Header, queue: str, test_hooks: bool) -> Callable[[bytes], None]:
    """For a job the service queued by its declared type: sniff the first bytes; another format of this
    queue replaces ``header["fmt"]``, another queue raises WrongQueue, no known format 415/422."""
    def confirm(head: bytes) -> None:
        found = sniff(head, str(header["store"].get("declared", "")), test_hooks)
        if found.queue != queue:
            raise WrongQueue(found.fmt, found.queue)
        header["fmt"] = found.fmt

    return confirm


def serve(inp: BinaryIO, out: BinaryIO, queue: str, config: dict[str, object]) -> int:
    limit = int(config["original_size_limit"])  # type: ignore[call-overload]
    test_hooks = bool(config.get("test_hooks"))
    started = time.perf_counter()
    render = load_renderer(queue, limit)
    upkeep = load_upkeep(queue)
    je = jemalloc.info()
    ready = {"ready": True, "pid": os.getpid(), "queue": queue, "startup": time.perf_counter() - started,
             "modules": [m for m in HEAVY_MODULES if m in sys.modules], "jemalloc": je.active,
             "jemalloc_version": je.version, "rss": rss_bytes(), "priority": priority()}
    out.write(encode(ready))
    out.flush()
    purge_due = False
    while True:
        if purge_due and not _job_within(inp, PURGE_IDLE_S):
            jemalloc.purge()
            purge_due = False
        frame = read_frame(inp)
        if frame is None:
            return 0
        header, payload = frame
        t0 = time.perf_counter()
        streamed = StreamedInput(inp, payload) if header.get("stream") else None
        source = streamed if streamed is not None else (header["path"] if header.get("path") else payload)
        try:
            if header.get("store"):
                store = header["store"]
                confirm = confirmer(header, queue, test_hooks) if store.get("sniff") else None
                with opened(store, confirm) as stored:
                    reply, data = handle(render, header, stored, test_hooks, limit)
            else:
                reply, data = handle(render, header, source, test_hooks, limit)
        except WrongQueue as moved:  # not rendered here: the service moves the job
            reply, data = {"ok": False, "code": moved.code, "message": moved.message, "fmt": moved.fmt,
                           "queue": moved.queue}, b""
        except Exception as exc:  # every failure is an answer, never a dead worker
            code, message = classify(exc)
            reply, data = {"ok": False, "code": code, "message": message}, b""
        reply["elapsed"] = time.perf_counter() - t0  # for a streamed input, also waiting for its bytes
        if streamed is not None:
            streamed.drain()  # the rest of the request, whether the decoder needed it or not
        purge_due = purge_due or int(header.get("input_size", 0)) > PURGE_ABOVE
        reply["rss"] = rss_bytes()
        out.write(encode(reply, data))
        out.flush()
        if upkeep is not None:  # after the reply: not part of the task's time
            upkeep()
        del payload, data, source, streamed


def _job_within(inp: BinaryIO, seconds: float) -> bool:
    """Whether the next job starts arriving within ``seconds``. The service sends a job only after the
    reply to the previous one, so nothing waits in ``inp``'s buffer when this is asked."""
    try:
        return bool(select.select([inp.fileno()], [], [], seconds)[0])
    except (OSError, ValueError):
        return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m previewer.worker image|document|video", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format=f"previewer-worker[{argv[1]}] %(levelname)s %(message)s")
    config = json.loads(os.environ.get(CONFIG_ENV, "{}") or "{}")
    if argv[1] in SLOW_QUEUES:
        lower_priority()
    config.setdefault("original_size_limit", 256 * 1024 * 1024)
    # Protocol on private copies of fds 0/1; fd 1 itself goes to stderr so C-library prints are harmless.
    out = os.fdopen(os.dup(1), "wb")
    inp = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        return serve(inp, out, argv[1], config)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
