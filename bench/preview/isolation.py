"""Queue isolation: image latency while the document and video queues are full, vs idle.

The backlog is one client per distinct PDF / video (so single flight cannot merge them), each re-requesting
its id as soon as the answer arrives (cache off: every request renders again), which keeps ~50 PDFs and
~20 videos queued or running for the whole image measurement. Queue depths are sampled from /healthz
during the run to show the backlog really was there.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

import aiohttp

import loadgen as lg

FILL_TIMEOUT_S = 20.0
FILL_POLL_S = 0.05
DRAIN_TIMEOUT_S = 120.0
DEPTH_SAMPLE_EVERY = 5
MIN_FILL = 0.5  # start measuring once half the backlog is visible in the queues


async def _depths(http: aiohttp.ClientSession, base: str) -> dict[str, int]:
    async with http.get(f"{base}/healthz") as resp:
        health = await resp.json()
    return {name: int(q["depth"]) + int(q["busy"]) for name, q in health["queues"].items()}


async def _backlog_client(http: aiohttp.ClientSession, url: str, stop: asyncio.Event, done: list[int]) -> None:
    while not stop.is_set():
        await lg.fetch(http, url, "miss")
        done[0] += 1


async def measure(base: str, image_url: str, backlog_urls: list[str], n: int, rounds: int,
                  expected_docs: int, expected_videos: int) -> dict[str, Any]:
    """Alternate idle and loaded runs of ``n`` sequential image requests, ``rounds`` times each."""
    out: dict[str, Any] = {"rounds": []}
    async with lg.session(4) as fg, lg.session(len(backlog_urls) + 8) as bg:
        for index in range(rounds):
            idle = await lg.sequential(fg, [image_url], n, "miss")
            stop = asyncio.Event()
            done = [0]
            tasks = [asyncio.create_task(_backlog_client(bg, url, stop, done)) for url in backlog_urls]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + FILL_TIMEOUT_S
            depth = await _depths(fg, base)
            while (depth["document"] < expected_docs * MIN_FILL or depth["video"] < expected_videos * MIN_FILL) \
                    and loop.time() < deadline:
                await asyncio.sleep(FILL_POLL_S)
                depth = await _depths(fg, base)
            loaded: list[float] = []
            seen: list[dict[str, int]] = [depth]
            for i in range(n):
                loaded.append(await lg.fetch(fg, image_url, "miss"))
                if i % DEPTH_SAMPLE_EVERY == 0:
                    seen.append(await _depths(fg, base))
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), DRAIN_TIMEOUT_S)
            idle_s, loaded_s = lg.summary_ms(idle), lg.summary_ms(loaded)
            out["rounds"].append({
                "idle": idle_s, "loaded": loaded_s, "backlog_completed": done[0],
                "document_depth_min": min(d["document"] for d in seen),
                "document_depth_max": max(d["document"] for d in seen),
                "video_depth_min": min(d["video"] for d in seen),
                "video_depth_max": max(d["video"] for d in seen),
                "p99_ratio": round(loaded_s["p99_ms"] / idle_s["p99_ms"], 3),
                "p50_ratio": round(loaded_s["p50_ms"] / idle_s["p50_ms"], 3)})
    rs = out["rounds"]
    out["p99_ratio_median"] = round(statistics.median(r["p99_ratio"] for r in rs), 3)
    out["p50_ratio_median"] = round(statistics.median(r["p50_ratio"] for r in rs), 3)
    out["idle_p99_ms_median"] = round(statistics.median(r["idle"]["p99_ms"] for r in rs), 2)
    out["loaded_p99_ms_median"] = round(statistics.median(r["loaded"]["p99_ms"] for r in rs), 2)
    out["idle_p50_ms_median"] = round(statistics.median(r["idle"]["p50_ms"] for r in rs), 2)
    out["loaded_p50_ms_median"] = round(statistics.median(r["loaded"]["p50_ms"] for r in rs), 2)
    return out
