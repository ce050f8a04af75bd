"""Memory: the watchdog exits non-zero past THUMBNAIL_MEMORY_LIMIT, jemalloc is detected for real."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable

import aiohttp
import pytest

from previewer import jemalloc
from tests.previewer.conftest import ROOT, Origin, PreviewerProcess, get_metrics, metric
from tests.previewer.test_work_model import health, hook, until

EXIT_MEMORY = 3


@pytest.mark.slow
async def test_watchdog_answers_in_flight_requests_then_exits(
        origin: Origin, start_previewer: Callable[..., PreviewerProcess], http: aiohttp.ClientSession) -> None:
    proc = start_previewer(THUMBNAIL_MEMORY_LIMIT="500", PREVIEWER_WORKER_MEMORY_LIMIT="2048",
                           THUMBNAIL_TASK_WORKERS="1", PREVIEWER_WATCHDOG_INTERVAL="0.2")
    async def sampled() -> bool:  # /healthz has "rss": null until the watchdog's first sample
        return (await health(http, proc.url))["rss"] is not None

    await until(sampled, 5)
    rss = (await health(http, proc.url))["rss"]
    assert rss["service"] + rss["workers"] < 500 * 2**20, "the idle service must fit the limit"
    started = time.monotonic()
    async with http.get(f"{proc.url}/preview/{origin.add(hook('BLOAT', 'image', 600, 30))}") as resp:
        assert resp.status == 503
        assert "memory" in (await resp.json())["Error"]
    assert time.monotonic() - started < 20, "the in-flight request is answered, not left hanging"
    code = await asyncio.to_thread(proc.wait_exit, 20)
    assert code == EXIT_MEMORY
    assert "THUMBNAIL_MEMORY_LIMIT" in proc.log and "worker pid" in proc.log


async def test_watchdog_with_a_tiny_limit_exits_at_once(origin: Origin,
                                                        start_previewer: Callable[..., PreviewerProcess]) -> None:
    proc = start_previewer(wait_ready=False, THUMBNAIL_MEMORY_LIMIT="1", PREVIEWER_WORKER_MEMORY_LIMIT="1",
                           THUMBNAIL_TASK_WORKERS="1")
    code = await asyncio.to_thread(proc.wait_exit, 30)
    assert code == EXIT_MEMORY
    assert "over THUMBNAIL_MEMORY_LIMIT (1 MB)" in proc.log


@pytest.mark.skipif(jemalloc.find_library() is None, reason="libjemalloc2 is not installed")
async def test_jemalloc_is_preloaded_and_detected(start_previewer: Callable[..., PreviewerProcess],
                                                  http: aiohttp.ClientSession) -> None:
    proc = start_previewer(THUMBNAIL_TASK_WORKERS="1")
    info = await health(http, proc.url)
    assert info["jemalloc"]["active"] is True
    assert info["jemalloc"]["version"].startswith("5.")
    assert all(w["jemalloc"] for q in info["queues"].values() for w in q["workers"])
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_jemalloc_active", process="service") == 1
    assert metric(m, "previewer_jemalloc_active", process="workers") == 1

    async def active_bytes() -> bool:
        return metric(await get_metrics(http, proc.url), "previewer_jemalloc_active_bytes") > 0

    await until(active_bytes)


async def test_jemalloc_off_means_glibc_everywhere(start_previewer: Callable[..., PreviewerProcess],
                                                   http: aiohttp.ClientSession) -> None:
    lib = jemalloc.find_library()
    env = {"PREVIEWER_JEMALLOC": "off", "THUMBNAIL_TASK_WORKERS": "1"}
    if lib is not None:
        env["LD_PRELOAD"] = lib  # even when the caller preloads it, off means off for the workers
    proc = start_previewer(**env)
    info = await health(http, proc.url)
    assert info["jemalloc"]["active"] is False
    assert "jemalloc" not in info["jemalloc"]["ld_preload"]
    assert not any(w["jemalloc"] for q in info["queues"].values() for w in q["workers"])
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_jemalloc_active", process="service") == 0
    assert metric(m, "previewer_jemalloc_active", process="workers") == 0


PROBE = "from previewer import jemalloc; i = jemalloc.info(); print(i.active, jemalloc.purge(), i.version or '-')"


@pytest.mark.parametrize("preload", [False, True], ids=["glibc", "LD_PRELOAD=jemalloc"])
def test_ctypes_detection_with_and_without_ld_preload(preload: bool) -> None:
    lib = jemalloc.find_library()
    if preload and lib is None:
        pytest.skip("libjemalloc2 is not installed")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env["PYTHONPATH"] = str(ROOT)
    if preload:
        env["LD_PRELOAD"] = str(lib)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    active, purged, version = out.stdout.split()
    assert active == str(preload) and purged == str(preload)
    assert version.startswith("5.") if preload else version == "-"


def test_a_worker_purges_after_a_big_input_once_idle() -> None:
    """After an input over PURGE_ABOVE the worker purges jemalloc's arenas when no job came for
    PURGE_IDLE_S, not right away (the next big input would fault the same pages in again)."""
    import io
    import threading

    from previewer.protocol import encode
    from previewer.worker import __main__ as wmain

    calls: list[float] = []
    original = wmain.jemalloc.purge
    r, w = os.pipe()
    out = io.BytesIO()
    big = b"x" * (wmain.PURGE_ABOVE + 1)
    try:
        wmain.jemalloc.purge = lambda: calls.append(time.monotonic()) or True  # type: ignore[assignment]
        wmain.PURGE_IDLE_S, idle = 0.3, wmain.PURGE_IDLE_S
        frame = encode({"fmt": "nope", "size": 128, "path": None, "input_size": len(big)}, big)

        def feed() -> None:
            with os.fdopen(w, "wb") as pipe:
                pipe.write(frame)
                pipe.flush()
                time.sleep(0.1)  # the second job comes before the idle time: no purge in between
                pipe.write(frame)
                pipe.flush()
                time.sleep(1.2)  # idle: one purge (0.3 s after the second job, with room to spare)
            # closed: the worker ends

        thread = threading.Thread(target=feed)
        started = time.monotonic()
        thread.start()
        with os.fdopen(r, "rb") as inp:
            assert wmain.serve(inp, out, "image", {"original_size_limit": 10**9}) == 0
        thread.join()
    finally:
        wmain.jemalloc.purge = original  # type: ignore[assignment]
        wmain.PURGE_IDLE_S = idle
    assert len(calls) == 1 and calls[0] - started >= 0.4, [c - started for c in calls]
