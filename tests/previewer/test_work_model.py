"""The work model through the real service: single flight, timeouts, expiry, full queues, isolation."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.previewer import samples
from tests.previewer.conftest import Origin, PreviewerProcess, get_metrics, metric

FAST = 0.5  # seconds a health check or an idle image thumbnail may take at most here


def hook(kind: str, queue: str, *args: object) -> bytes:
    return " ".join([f"PREVIEWER-{kind}", queue, *map(str, args), os.urandom(8).hex()]).encode()


async def health(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(base + "/healthz") as resp:
        assert resp.status == 200
        return await resp.json()


async def until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(step)


async def test_workers_import_only_what_their_queue_needs(previewer: PreviewerProcess,
                                                          http: aiohttp.ClientSession) -> None:
    queues = (await health(http, previewer.url))["queues"]
    for worker in queues["image"]["workers"]:
        assert worker["modules"] == ["PIL"]
    for worker in queues["document"]["workers"]:
        assert "pymupdf" in worker["modules"] and "av" not in worker["modules"]
    for worker in queues["video"]["workers"]:
        assert "av" in worker["modules"] and "pymupdf" not in worker["modules"] and "fitz" not in worker["modules"]
    assert len(queues["image"]["workers"]) == 2
    # documents and videos only get the CPU images leave over (SCHED_IDLE, else nice 10)
    base = f"nice {os.nice(0)}"  # the previewer runs at the test's own niceness
    assert {w["priority"] for w in queues["image"]["workers"]} == {base}
    slow = {w["priority"] for q in ("document", "video") for w in queues[q]["workers"]}
    assert slow == {"idle"} or slow == {f"nice {min(19, os.nice(0) + 10)}"}


async def test_single_flight_shares_one_task(origin: Origin, previewer: PreviewerProcess,
                                             http: aiohttp.ClientSession) -> None:
    n = 12
    blob_id = origin.add(samples.jpeg(1200, 900), "image/jpeg", delay=0.5)
    before = await get_metrics(http, previewer.url)

    async def one() -> tuple[int, bytes]:
        async with http.get(f"{previewer.url}/preview/{blob_id}?size=512") as resp:
            return resp.status, await resp.read()

    results = await asyncio.gather(*(one() for _ in range(n)))
    assert {status for status, _ in results} == {200}
    assert len({body for _, body in results}) == 1, "every waiter gets the same result"
    assert origin.hits[blob_id] == 1
    after = await get_metrics(http, previewer.url)
    ok = ("previewer_tasks_total", {"queue": "image", "outcome": "ok"})
    assert metric(after, ok[0], **ok[1]) - metric(before, ok[0], **ok[1]) == 1
    assert metric(after, "previewer_singleflight_joined_total") - metric(
        before, "previewer_singleflight_joined_total") == n - 1


async def test_single_flight_while_the_worker_runs(origin: Origin, previewer: PreviewerProcess,
                                                   http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(hook("SLEEP", "document", 0.8), "application/octet-stream")
    before = await get_metrics(http, previewer.url)
    responses = await asyncio.gather(*(http.get(f"{previewer.url}/preview/{blob_id}") for _ in range(6)))
    for resp in responses:
        assert resp.status == 200
        resp.release()
    after = await get_metrics(http, previewer.url)
    key = {"queue": "document", "outcome": "ok"}
    assert metric(after, "previewer_tasks_total", **key) - metric(before, "previewer_tasks_total", **key) == 1


@pytest.mark.slow
async def test_health_and_images_stay_fast_while_slow_tasks_run(
        origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    slow = [origin.add(hook("SLEEP", queue, 3)) for queue in ("document", "document", "video", "video")]
    slow_requests = [asyncio.create_task(http.get(f"{previewer.url}/preview/{b}")) for b in slow]

    async def all_busy() -> bool:
        m = await get_metrics(http, previewer.url)
        return (metric(m, "previewer_workers_busy", queue="document") == 2
                and metric(m, "previewer_workers_busy", queue="video") == 2)

    await until(all_busy)
    for _ in range(10):
        started = time.monotonic()
        await health(http, previewer.url)
        assert time.monotonic() - started < FAST
    image = origin.add(samples.jpeg(1000, 800), "image/jpeg")
    started = time.monotonic()
    async with http.get(f"{previewer.url}/preview/{image}") as resp:
        assert resp.status == 200
    assert time.monotonic() - started < FAST, "document and video work must not delay images"
    for resp in await asyncio.gather(*slow_requests):
        assert resp.status == 200
        resp.release()


@pytest.mark.slow
async def test_timeout_kills_and_replaces_the_worker(origin: Origin, start_previewer: Callable[..., PreviewerProcess],
                                                     http: aiohttp.ClientSession) -> None:
    proc = start_previewer(THUMBNAIL_TASK_TIMEOUT="1", THUMBNAIL_TASK_WORKERS="1")
    old_pid = (await health(http, proc.url))["queues"]["video"]["workers"][0]["pid"]
    hung = origin.add(hook("SLEEP", "video", 60) + b" " + b"x" * (2 * 1024 * 1024))  # spooled to a temp file
    started = time.monotonic()
    async with http.get(f"{proc.url}/preview/{hung}") as resp:
        assert resp.status == 504
        body = await resp.json()
    assert time.monotonic() - started < 5
    assert body["Status"] == 504 and "THUMBNAIL_TASK_TIMEOUT" in body["Error"]
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_task_timeouts_total", queue="video") == 1
    assert metric(m, "previewer_worker_restarts_total", queue="video", reason="timeout") == 1

    async def replaced() -> bool:
        workers = (await health(http, proc.url))["queues"]["video"]["workers"]
        return bool(workers) and workers[0]["alive"] and workers[0]["pid"] != old_pid

    await until(replaced)
    assert [p for p in proc.tmpdir.rglob("*") if p.is_file()] == [], "temp files removed"
    video = origin.add(samples.video("mp4", "libx264", seconds=2))
    async with http.get(f"{proc.url}/preview/{video}") as resp:
        assert resp.status == 200


async def test_crashed_worker_answers_422_and_is_replaced(origin: Origin, previewer: PreviewerProcess,
                                                          http: aiohttp.ClientSession) -> None:
    before = await get_metrics(http, previewer.url)
    async with http.get(f"{previewer.url}/preview/{origin.add(hook('CRASH', 'image'))}") as resp:
        assert resp.status == 422
        assert "crashed" in (await resp.json())["Error"]
    after = await get_metrics(http, previewer.url)
    key = {"queue": "image", "reason": "crash"}
    assert metric(after, "previewer_worker_restarts_total", **key) == metric(
        before, "previewer_worker_restarts_total", **key) + 1
    async with http.get(f"{previewer.url}/preview/{origin.add(samples.png(64, 64) + b'ok')}") as resp:
        assert resp.status == 200


@pytest.mark.slow
async def test_full_queue_answers_503_with_retry_after(origin: Origin, start_previewer: Callable[..., PreviewerProcess],
                                                       http: aiohttp.ClientSession) -> None:
    proc = start_previewer(THUMBNAIL_TASK_WORKERS="1", PREVIEWER_QUEUE_SIZE="1", PREVIEWER_RETRY_AFTER="7")
    running = asyncio.create_task(http.get(f"{proc.url}/preview/{origin.add(hook('SLEEP', 'image', 2))}"))

    async def depth(queue: str, busy: float, waiting: float) -> bool:
        m = await get_metrics(http, proc.url)
        return (metric(m, "previewer_workers_busy", queue=queue) == busy
                and metric(m, "previewer_queue_depth", queue=queue) == waiting)

    await until(lambda: depth("image", 1, 0))
    queued = asyncio.create_task(http.get(f"{proc.url}/preview/{origin.add(hook('SLEEP', 'image', 0.1))}"))
    await until(lambda: depth("image", 1, 1))
    async with http.get(f"{proc.url}/preview/{origin.add(samples.jpeg(200, 200))}") as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "7"
        body = await resp.json()
        assert body["Status"] == 503 and "image queue is full" in body["Error"]
    # other queues are not affected
    async with http.get(f"{proc.url}/preview/{origin.add(samples.pdf(1))}") as resp:
        assert resp.status == 200
    for task in (running, queued):
        resp = await task
        assert resp.status == 200
        resp.release()
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_busy_rejections_total", queue="image") == 1


@pytest.mark.slow
async def test_uncollected_results_expire(origin: Origin, start_previewer: Callable[..., PreviewerProcess],
                                          http: aiohttp.ClientSession) -> None:
    proc = start_previewer(THUMBNAIL_RESULT_EXPIRE_TIME="1.5", PREVIEWER_CACHE_DIR="")
    first, second = origin.add(samples.jpeg(640, 480)), origin.add(samples.png(640, 480))
    async with http.post(f"{proc.url}/prewarm", json={"items": [
            {"id": first, "content_type": "image/jpeg"}, {"id": second, "content_type": "image/png"},
            {"id": "nope"}, {"id": "cd" * 32, "content_type": "text/plain"}]}) as resp:
        assert resp.status == 202
        assert await resp.json() == {"accepted": 2, "skipped": 1, "invalid": 1}

    async def waiting(n: float) -> bool:
        return metric(await get_metrics(http, proc.url), "previewer_results_waiting") == n

    await until(lambda: waiting(2))
    # collected within the expiry time: no new task
    async with http.get(f"{proc.url}/preview/{first}") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/jpeg"
        assert resp.headers["X-Preview-Cache"] == "ready"
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_tasks_total", queue="image", outcome="ok") == 2
    assert metric(m, "previewer_results_waiting") == 1
    # the other one is never collected and expires
    await until(lambda: waiting(0), timeout=5)
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_results_expired_total") == 1
    async with http.get(f"{proc.url}/preview/{second}") as resp:
        assert resp.status == 200
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_tasks_total", queue="image", outcome="ok") == 3, "expired result re-rendered"
    assert origin.hits[first] == 1 and origin.hits[second] == 2


async def test_prewarm_fills_the_cache(origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(samples.webp(500, 500) + b"prewarm", "image/webp")
    async with http.post(f"{previewer.url}/prewarm", json={"items": [{"id": blob_id, "content_type": "image/webp"}]}) as r:
        assert r.status == 202

    async def cached() -> bool:
        return any(p.parent.parent.name == "256" for p in (previewer.workdir / "cache").rglob(f"{blob_id}.*"))

    await until(cached)
    async with http.get(f"{previewer.url}/preview/{blob_id}") as resp:
        assert resp.status == 200 and resp.headers["X-Preview-Cache"] == "ready"
        assert Image.open(io.BytesIO(await resp.read())).size == (256, 256)
    async with http.get(f"{previewer.url}/preview/{blob_id}") as resp:
        assert resp.status == 200 and resp.headers["X-Preview-Cache"] == "hit"
    assert origin.hits[blob_id] == 1


async def test_worker_over_its_budget_is_recycled_between_tasks(
        origin: Origin, start_previewer: Callable[..., PreviewerProcess], http: aiohttp.ClientSession) -> None:
    proc = start_previewer(PREVIEWER_WORKER_MEMORY_LIMIT="120", THUMBNAIL_TASK_WORKERS="1")
    old_pid = (await health(http, proc.url))["queues"]["image"]["workers"][0]["pid"]
    async with http.get(f"{proc.url}/preview/{origin.add(hook('BLOAT', 'image', 150, 0))}") as resp:
        assert resp.status == 200, "the task that grew still gets its answer"

    async def recycled() -> bool:
        workers = (await health(http, proc.url))["queues"]["image"]["workers"]
        return bool(workers) and workers[0]["alive"] and workers[0]["pid"] != old_pid

    await until(recycled)
    m = await get_metrics(http, proc.url)
    assert metric(m, "previewer_worker_restarts_total", queue="image", reason="memory") == 1
    async with http.get(f"{proc.url}/preview/{origin.add(samples.jpeg(300, 200))}") as resp:
        assert resp.status == 200


async def test_wait_0_answers_pending_then_the_result(origin: Origin, previewer: PreviewerProcess,
                                                      http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(samples.jpeg(900, 600) + b"poll", "image/jpeg", delay=0.3)
    url = f"{previewer.url}/preview/{blob_id}?size=128&wait=0"
    async with http.get(url) as resp:
        assert resp.status == 202 and resp.headers["Retry-After"] == "1"
        assert await resp.json() == {"Pending": True, "Status": 202}
    statuses: list[int] = []

    async def done() -> bool:
        async with http.get(url) as resp:
            statuses.append(resp.status)
            if resp.status == 200:
                assert Image.open(io.BytesIO(await resp.read())).size == (128, 85)
            return resp.status == 200

    await until(done)
    assert set(statuses) <= {200, 202}
    assert origin.hits[blob_id] == 1


async def test_wait_0_sees_a_lasting_error_without_starting_over(origin: Origin, previewer: PreviewerProcess,
                                                                 http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(samples.garbled(samples.jpeg(300, 300)) + b"poll", "image/jpeg")
    url = f"{previewer.url}/preview/{blob_id}?wait=0"

    async def failed() -> bool:
        async with http.get(url) as resp:
            return resp.status == 422

    await until(failed)
    assert origin.hits[blob_id] == 1


async def test_sigterm_stops_cleanly(origin: Origin, start_previewer: Callable[..., PreviewerProcess],
                                     http: aiohttp.ClientSession) -> None:
    proc = start_previewer(THUMBNAIL_TASK_WORKERS="1")
    workers = [w["pid"] for q in (await health(http, proc.url))["queues"].values() for w in q["workers"]]
    async with http.get(f"{proc.url}/preview/{origin.add(samples.bmp(1500, 1000) + b'term')}") as resp:
        assert resp.status == 200
    assert await asyncio.to_thread(proc.stop) == 0
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert list(proc.tmpdir.iterdir()) == [], "private temp dirs removed"
