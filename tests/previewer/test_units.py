"""In-process pieces: sniffing, settings, the disk cache and the single-flight map."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailcapture.config import ConfigError
from previewer.cache import DiskCache
from previewer.errors import Busy, Corrupt, NotFound, Unsupported
from previewer.flights import Flights
from previewer.metrics import Metrics
from previewer.settings import SETTINGS, auto_workers, load_settings
from previewer.sniff import DOCUMENT, IMAGE, VIDEO, Sniffed, guess, sniff
from tests.previewer import samples
from tests.previewer.conftest import ROOT


@pytest.mark.parametrize(("make", "fmt", "queue"), [
    (lambda: samples.jpeg(32, 32), "jpeg", IMAGE),
    (lambda: samples.png(32, 32), "png", IMAGE),
    (lambda: samples.gif(32, 32), "gif", IMAGE),
    (lambda: samples.webp(32, 32), "webp", IMAGE),
    (lambda: samples.bmp(32, 32), "bmp", IMAGE),
    (lambda: samples.tiff(32, 32), "tiff", IMAGE),
    (samples.ico, "ico", IMAGE),
    (lambda: samples.avif(32, 32), "avif", IMAGE),
    (lambda: samples.psd(8, 8), "psd", DOCUMENT),
    (lambda: samples.pdf(1), "pdf", DOCUMENT),
    (lambda: samples.svg(), "svg", DOCUMENT),
    (lambda: b"\xef\xbb\xbf  <!-- logo -->\n<svg xmlns='http://www.w3.org/2000/svg'></svg>", "svg", DOCUMENT),
    (lambda: samples.video("mp4", "libx264", seconds=1), "video", VIDEO),
    (lambda: samples.video("webm", "libvpx", seconds=1), "video", VIDEO),
    (lambda: samples.video("avi", "mpeg4", seconds=1), "video", VIDEO),
])
def test_sniff(make, fmt: str, queue: str) -> None:  # type: ignore[no-untyped-def]
    found = sniff(make()[:4096], "application/octet-stream")
    assert (found.fmt, found.queue) == (fmt, queue)


def test_sniff_refusals() -> None:
    with pytest.raises(Unsupported):
        sniff(b"hello world", "text/plain")
    with pytest.raises(Corrupt, match="declared image/png"):
        sniff(b"hello world", "image/png; name=x.png")
    with pytest.raises(Corrupt, match="empty"):
        sniff(b"", "image/png")
    with pytest.raises(Unsupported):
        sniff(b"PREVIEWER-SLEEP image 5", "")  # test hooks are off by default
    assert sniff(b"PREVIEWER-SLEEP video 5", "", test_hooks=True).queue == VIDEO


def test_settings_defaults() -> None:
    s = load_settings({})
    assert s.http_addr == ("127.0.0.1", 8088)
    assert s.capture_url == "http://127.0.0.1:8025"
    assert s.result_expire == 120
    assert s.image_size_limit == 30 * 2**20
    assert s.original_size_limit == 256 * 2**20
    assert s.task_workers == auto_workers() >= 1
    assert s.test_hooks is False
    assert s.prewarm_sizes == (256,)
    assert len({x.env for x in SETTINGS}) == len(SETTINGS)


@pytest.mark.parametrize(("env", "needle"), [
    ({"THUMBNAIL_TASK_TIMEOUT": "0"}, "THUMBNAIL_TASK_TIMEOUT"),
    ({"THUMBNAIL_TASK_WORKERS": "zero"}, "THUMBNAIL_TASK_WORKERS"),
    ({"THUMBNAIL_IMAGE_SIZE_LIMIT": "-1"}, "THUMBNAIL_IMAGE_SIZE_LIMIT"),
    ({"PREVIEWER_HTTP_ADDR": "8088"}, "PREVIEWER_HTTP_ADDR"),
    ({"PREVIEWER_CAPTURE_URL": "ftp://x"}, "PREVIEWER_CAPTURE_URL"),
    ({"PREVIEWER_PREWARM_SIZES": "256,300"}, "PREVIEWER_PREWARM_SIZES"),
    ({"PREVIEWER_JEMALLOC": "/nonexistent/libjemalloc.so"}, "PREVIEWER_JEMALLOC"),
    ({"PREVIEWER_JEMALLOC": "maybe"}, "PREVIEWER_JEMALLOC"),
])
def test_bad_settings_fail_fast(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(env)


def test_cli_exits_2_with_a_clear_message_on_a_bad_setting() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "THUMBNAIL_RESULT_EXPIRE_TIME": "soon"}
    out = subprocess.run([sys.executable, "-m", "previewer", "serve"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2
    assert "THUMBNAIL_RESULT_EXPIRE_TIME" in out.stderr and "soon" in out.stderr


def test_cli_prints_the_settings_table() -> None:
    out = subprocess.run([sys.executable, "-m", "previewer", "settings"], capture_output=True, text=True,
                         timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert all(f"`{s.env}`" in out.stdout for s in SETTINGS)


async def test_cache_writes_atomically_and_evicts_least_recently_used(tmp_path: Path) -> None:
    metrics = Metrics()
    cache = DiskCache(str(tmp_path), 3000, metrics)
    await cache.load()
    ids = [f"{i:02x}" * 32 for i in range(4)]
    for blob_id in ids[:3]:
        await cache.store((blob_id, 256), b"x" * 900, "jpg")
    assert (tmp_path / "256" / ids[0][:2] / f"{ids[0]}.jpg").read_bytes() == b"x" * 900
    assert await cache.read((ids[0], 256)) == (b"x" * 900, "image/jpeg")  # now most recently used
    await cache.store((ids[3], 256), b"y" * 900, "png")  # 3600 > 3000: evict down to 2700
    assert cache.total <= 2700
    assert await cache.read((ids[1], 256)) is None, "least recently used went first"
    assert not (tmp_path / "256" / ids[1][:2] / f"{ids[1]}.jpg").exists()
    assert await cache.read((ids[0], 256)) is not None
    assert (metrics.registry.get_sample_value("previewer_cache_evictions_total") or 0) >= 1
    assert not list(tmp_path.rglob(".tmp-*"))
    # a crash leftover is removed and existing files are indexed again at start-up
    (tmp_path / "256" / ids[0][:2] / ".tmp-crashed").write_bytes(b"half")
    reloaded = DiskCache(str(tmp_path), 3000, Metrics())
    await reloaded.load()
    assert len(reloaded) == len(cache) and reloaded.total == cache.total
    assert not list(tmp_path.rglob(".tmp-*"))


async def test_flights_share_one_task_and_bound_the_map() -> None:
    metrics = Metrics()
    flights: Flights[str] = Flights(max_pending=2, expire=60, metrics=metrics)
    calls = 0
    gate = asyncio.Event()

    async def produce() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "thumb"

    waiters = [asyncio.create_task(flights.get(("a" * 64, 256), produce)) for _ in range(5)]
    await asyncio.sleep(0)
    other = asyncio.create_task(flights.get(("b" * 64, 256), produce))
    await asyncio.sleep(0)
    with pytest.raises(Busy):
        await flights.get(("c" * 64, 256), produce)
    waiters[0].cancel()  # one client goes away: the others still get the result
    gate.set()
    results = await asyncio.gather(*waiters[1:], other)
    assert results == [("thumb", False)] * 5
    assert calls == 2 and len(flights) == 0


async def test_flight_errors_reach_every_waiter_and_are_not_kept() -> None:
    flights: Flights[str] = Flights(max_pending=8, expire=60, metrics=Metrics())

    async def produce() -> str:
        await asyncio.sleep(0.01)
        raise NotFound("gone")

    results = await asyncio.gather(*(flights.get(("a" * 64, 128), produce) for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, NotFound) for r in results)
    assert len(flights) == 0


async def test_uncollected_result_expires() -> None:
    metrics = Metrics()
    flights: Flights[str] = Flights(max_pending=8, expire=0.05, metrics=metrics)

    async def produce() -> str:
        return "thumb"

    flight = flights.start(("a" * 64, 128), produce)
    await asyncio.wait_for(asyncio.shield(flight.future), 5)
    assert flights.results_waiting == 1
    await asyncio.sleep(0.2)
    assert flights.results_waiting == 0 and len(flights) == 0
    assert metrics.registry.get_sample_value("previewer_results_expired_total") == 1


def test_docs_settings_table_is_current() -> None:
    from mailcapture.docs import render

    text = (ROOT / "docs" / "previewer.md").read_text()
    assert render(text) == text, "docs/previewer.md is stale: run python -m mailcapture.docs docs/previewer.md"
    assert all(f"`{s.env}`" in text for s in SETTINGS)


async def test_kept_results_are_bounded_in_bytes() -> None:
    metrics = Metrics()
    flights: Flights[bytes] = Flights(max_pending=100, expire=60, metrics=metrics, weigh=len, max_kept_bytes=2500)

    async def produce() -> bytes:
        return b"x" * 1000

    for i in range(5):
        flight = flights.start((f"{i:02x}" * 32, 128), produce)
        await asyncio.wait_for(asyncio.shield(flight.future), 5)
        await asyncio.sleep(0)
    assert flights.results_waiting == 2 and flights.kept_bytes == 2000
    assert metrics.registry.get_sample_value("previewer_results_expired_total") == 3
    # the newest survive
    assert await flights.get(("04" * 32, 128), produce) == (b"x" * 1000, True)


@pytest.mark.parametrize("head", [b"<!--" * 1024, b"<!DOCTYPE [" * 372, b"<!-- -->" * 512, b" " * 4096,
                                  b"<?" * 2048, b"<!DOCTYPE svg [" + b"<!ENTITY a ']'>" * 250])
def test_svg_sniffing_is_linear_on_hostile_heads(head: bytes) -> None:
    import time

    started = time.perf_counter()
    for _ in range(10):
        with pytest.raises(Unsupported):
            sniff(head[:4096], "")
    assert time.perf_counter() - started < 0.5


def test_a_declared_type_gives_a_guess_only_for_formats_we_preview() -> None:
    assert guess("image/jpeg") == Sniffed("jpeg", IMAGE)
    assert guess("IMAGE/PNG; name=x.png") == Sniffed("png", IMAGE)
    assert guess("application/pdf") == Sniffed("pdf", DOCUMENT)
    assert guess("image/svg+xml") == Sniffed("svg", DOCUMENT)
    assert guess("video/quicktime") == Sniffed("video", VIDEO)
    assert guess("application/octet-stream") is None
    assert guess("") is None
    assert guess("text/plain") is None


async def test_the_cache_keeps_one_renderer_generation(tmp_path: Path) -> None:
    from previewer.cache import DiskCache
    from previewer.metrics import Metrics

    old = tmp_path / "0123456789ab" / "256" / "ab"
    old.mkdir(parents=True)
    (old / ("ab" * 32 + ".jpg")).write_bytes(b"old renderer")
    legacy = tmp_path / "256" / "cd"  # the layout before generations
    legacy.mkdir(parents=True)
    (legacy / ("cd" * 32 + ".jpg")).write_bytes(b"older still")
    (tmp_path / "notes").mkdir()  # not ours: left alone
    cache = DiskCache(str(tmp_path), 10**6, Metrics(), generation="fedcba987654")
    await cache.load()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fedcba987654", "notes"]
    assert len(cache) == 0
    await cache.store(("ef" * 32, 128), b"new", "jpg")
    assert (tmp_path / "fedcba987654" / "128" / "ef" / ("ef" * 32 + ".jpg")).read_bytes() == b"new"
