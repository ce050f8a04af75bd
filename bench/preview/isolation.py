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


async def _image_run(fg: aiohttp.ClientSession, base: str, image_url: str, blob_url: str, blob_size: int,
                     n: int, depths: list[dict[str, int]] | None) -> tuple[list[float], list[float], float | None]:
    """n image previews, each followed by a direct GET of the same blob from the capture service;
    returns (preview latencies, blob latencies, mean image-worker task time in seconds)."""
    before = await lg.metric_sums(fg, base, "previewer_task_duration_seconds", "queue")
    previews: list[float] = []
    blobs: list[float] = []
    for i in range(n):
        previews.append(await lg.fetch(fg, image_url, "miss"))
        blobs.append(await lg.fetch_blob(fg, blob_url, blob_size))
        if depths is not None and i % DEPTH_SAMPLE_EVERY == 0:
            depths.append(await _depths(fg, base))
    after = await lg.metric_sums(fg, base, "previewer_task_duration_seconds", "queue")
    return previews, blobs, lg.mean_between(before, after, "image")


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 2)


async def measure(base: str, image_url: str, blob_url: str, blob_size: int, backlog_urls: list[str], n: int,
                  rounds: int, expected_docs: int, expected_videos: int) -> dict[str, Any]:
    """Alternate idle and loaded runs of ``n`` sequential image requests, ``rounds`` times each."""
    out: dict[str, Any] = {"rounds": []}
    async with lg.session(4) as fg, lg.session(len(backlog_urls) + 8) as bg:
        for index in range(rounds):
            idle, idle_blob, idle_task = await _image_run(fg, base, image_url, blob_url, blob_size, n, None)
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
            seen: list[dict[str, int]] = [depth]
            loaded, loaded_blob, loaded_task = await _image_run(fg, base, image_url, blob_url, blob_size, n, seen)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), DRAIN_TIMEOUT_S)
            idle_s, loaded_s = lg.summary_ms(idle), lg.summary_ms(loaded)
            out["rounds"].append({
                "idle": idle_s, "loaded": loaded_s, "backlog_completed": done[0],
                "idle_blob": lg.summary_ms(idle_blob), "loaded_blob": lg.summary_ms(loaded_blob),
                "idle_image_task_mean_ms": _ms(idle_task), "loaded_image_task_mean_ms": _ms(loaded_task),
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
    for phase in ("idle", "loaded"):
        out[f"{phase}_blob_p50_ms_median"] = round(statistics.median(r[f"{phase}_blob"]["p50_ms"] for r in rs), 2)
        tasks = [r[f"{phase}_image_task_mean_ms"] for r in rs if r[f"{phase}_image_task_mean_ms"] is not None]
        out[f"{phase}_image_task_mean_ms_median"] = round(statistics.median(tasks), 2) if tasks else None
    return out
