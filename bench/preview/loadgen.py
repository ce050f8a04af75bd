"""HTTP load against ``GET /preview/<id>?size=N`` (aiohttp client, keep-alive), with percentiles.

Every answer is checked: status 200, an image Content-Type, a non-empty body and the expected
``X-Preview-Cache`` value ("miss" when the cache must not have answered, "hit" for the cached run), so a
result served from a cache can never pass as a rendered one.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp

REQUEST_TIMEOUT_S = 120.0
SIZE = 256


class LoadError(RuntimeError):
    """An answer was not a freshly rendered (or, for the cached run, cached) thumbnail."""


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(latencies: Sequence[float]) -> dict[str, float]:
    return {"n": len(latencies), "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 2)}


def session(connections: int = 16) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))


async def fetch(http: aiohttp.ClientSession, url: str, expect_cache: str | None) -> float:
    """One timed GET (request sent -> whole body read); raises LoadError on a wrong answer."""
    started = time.perf_counter()
    async with http.get(url) as resp:
        body = await resp.read()
        elapsed = time.perf_counter() - started
        if resp.status != 200 or not resp.content_type.startswith("image/") or not body:
            raise LoadError(f"GET {url}: {resp.status} {resp.content_type} {body[:200]!r}")
        got = resp.headers.get("X-Preview-Cache")
        if expect_cache is not None and got != expect_cache:
            raise LoadError(f"GET {url}: X-Preview-Cache {got!r}, expected {expect_cache!r}")
    return elapsed


async def fetch_blob(http: aiohttp.ClientSession, url: str, size: int) -> float:
    """One timed GET of the capture service's /internal/blob/<id> (what the previewer downloads)."""
    started = time.perf_counter()
    async with http.get(url) as resp:
        body = await resp.read()
        elapsed = time.perf_counter() - started
        if resp.status != 200 or len(body) != size:
            raise LoadError(f"GET {url}: {resp.status}, {len(body)} bytes, expected {size}")
    return elapsed


def time_once(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def preview_url(base: str, preview_id: str, size: int = SIZE) -> str:
    return f"{base}/preview/{preview_id}?size={size}"


async def sequential(http: aiohttp.ClientSession, urls: Sequence[str], n: int,
                     expect_cache: str | None = "miss") -> list[float]:
    """``n`` requests one after the other, cycling through ``urls``."""
    return [await fetch(http, urls[i % len(urls)], expect_cache) for i in range(n)]


@dataclass(frozen=True)
class Throughput:
    clients: int
    items: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.items / self.seconds


async def concurrent(http: aiohttp.ClientSession, client_urls: Sequence[Sequence[str]], per_client: int,
                     expect_cache: str | None = "miss") -> Throughput:
    """One task per client, each doing ``per_client`` requests back to back over its own URLs.
    Clients use distinct inputs, so single flight never merges two clients' work."""
    latencies: list[float] = []

    async def client(urls: Sequence[str]) -> None:
        for i in range(per_client):
            latencies.append(await fetch(http, urls[i % len(urls)], expect_cache))

    started = time.perf_counter()
    await asyncio.gather(*(client(urls) for urls in client_urls))
    return Throughput(len(client_urls), per_client * len(client_urls), time.perf_counter() - started, latencies)


_SAMPLE = re.compile(r'^(\w+)(?:\{([^}]*)\})?\s+([0-9.eE+-]+)$')


async def _samples(http: aiohttp.ClientSession, base: str) -> list[tuple[str, dict[str, str], float]]:
    """Every labelled sample of ``/metrics``: (name, labels without quotes, value)."""
    async with http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    out = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = {k: v.strip('"') for k, v in (kv.split("=", 1) for kv in (match.group(2) or "").split(",") if "=" in kv)}
            out.append((match.group(1), labels, float(match.group(3))))
    return out


async def metric_sums(http: aiohttp.ClientSession, base: str, name: str, label: str) -> dict[str, tuple[float, float]]:
    """``{label value: (sum, count)}`` of a Prometheus histogram from ``/metrics`` (``outcome="ok"`` only)."""
    out: dict[str, list[float]] = {}
    for sample, labels, value in await _samples(http, base):
        if not sample.startswith(name + "_") or labels.get("outcome", "ok") != "ok":
            continue
        slot = out.setdefault(labels.get(label, ""), [0.0, 0.0])
        if sample == name + "_sum":
            slot[0] += value
        elif sample == name + "_count":
            slot[1] += value
    return {k: (v[0], v[1]) for k, v in out.items()}


async def counter_values(http: aiohttp.ClientSession, base: str, name: str, label: str) -> dict[str, float]:
    """``{label value: value}`` of a Prometheus counter from ``/metrics`` (``name`` without ``_total``)."""
    out: dict[str, float] = {}
    for sample, labels, value in await _samples(http, base):
        if sample == name + "_total":
            key = labels.get(label, "")
            out[key] = out.get(key, 0.0) + value
    return out


def mean_between(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]],
                 key: str) -> float | None:
    """Mean of the histogram observations made between two scrapes (seconds), or None."""
    s0, c0 = before.get(key, (0.0, 0.0))
    s1, c1 = after.get(key, (0.0, 0.0))
    return (s1 - s0) / (c1 - c0) if c1 > c0 else None


def median_of(rounds: Sequence[dict[str, float]], field: str) -> float:
    return round(statistics.median(r[field] for r in rounds), 2)


def timed(fn: Callable[[], object], n: int, warmup: int = 2) -> list[float]:
    """In-process timing of a blocking call (the bare library reference)."""
    for _ in range(warmup):
        fn()
    out: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out
