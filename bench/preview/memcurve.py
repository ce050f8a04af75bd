"""Memory over many mixed previews: RSS of the previewer's process tree (service + workers, psutil)
sampled in a thread while clients request a deterministic mix of kinds; written as CSV and a PNG chart
(drawn with Pillow: no plotting dependency)."""

from __future__ import annotations

import asyncio
import csv
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image, ImageDraw

import loadgen as lg

SAMPLE_INTERVAL_S = 0.1
SETTLE_S = 3.0  # idle time after the run before the "end" sample
MIX = {"jpeg12": 35, "png": 20, "pdf": 25, "video": 15, "jpeg64": 5}  # percent of the requests
MIB = 1024 * 1024
PLATEAU_GROWTH = 0.10  # last-quarter peak at most 10 % above the second-quarter peak


ROLES = ("service", "image", "document", "video")


@dataclass
class Sample:
    t: float
    done: int
    rss: int
    procs: int
    roles: dict[str, int] = field(default_factory=dict)


class Sampler:
    """Samples ``measure()`` -> {role: rss} every SAMPLE_INTERVAL_S in a thread (bounded by ``stop``)."""

    def __init__(self, measure: Callable[[], dict[str, int]], progress: list[int]) -> None:
        self.measure = measure
        self.progress = progress
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._t0 = time.perf_counter()

    def _run(self) -> None:
        while not self._stop.is_set():
            roles = self.measure()
            self.samples.append(Sample(time.perf_counter() - self._t0, self.progress[0], sum(roles.values()),
                                       len(roles), roles))
            self._stop.wait(SAMPLE_INTERVAL_S)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def mixed_plan(available: dict[str, int], total: int, seed: int = 7) -> list[tuple[str, int]]:
    """A deterministic list of (kind, variant) following MIX (kinds not generated are left out)."""
    rng = random.Random(seed)
    kinds = [k for k in MIX if k in available]
    weights = [MIX[k] for k in kinds]
    return [(kind, rng.randrange(available[kind])) for kind in rng.choices(kinds, weights, k=total)]


async def drive(base: str, urls: dict[str, list[str]], total: int, clients: int,
                measure: Callable[[], dict[str, int]]) -> dict[str, Any]:
    """``total`` previews over ``clients`` concurrent clients; returns samples and counts."""
    plan = mixed_plan({k: len(v) for k, v in urls.items()}, total)
    progress = [0]
    latencies: list[float] = []
    cursor = iter(plan)

    async def client(http: aiohttp.ClientSession) -> None:
        for kind, variant in cursor:
            latencies.append(await lg.fetch(http, urls[kind][variant], "miss"))
            progress[0] += 1

    started = time.perf_counter()
    with Sampler(measure, progress) as sampler:
        async with lg.session(clients + 2) as http:
            before = await lg.metric_sums(http, base, "previewer_task_duration_seconds", "queue")
            await asyncio.gather(*(client(http) for _ in range(clients)))
            after = await lg.metric_sums(http, base, "previewer_task_duration_seconds", "queue")
        elapsed = time.perf_counter() - started
        await asyncio.sleep(SETTLE_S)
    renders = sum(after.get(q, (0, 0))[1] - before.get(q, (0, 0))[1] for q in after)
    return {"samples": sampler.samples, "seconds": elapsed, "previews": progress[0], "renders": int(renders),
            "latency": lg.summary_ms(latencies)}


def analyse(samples: list[Sample], total: int) -> dict[str, Any]:
    """Peak, end, and whether the curve flattens (quarters by previews completed)."""
    def peak(lo: float, hi: float) -> int:
        vals = [s.rss for s in samples if lo * total <= s.done < hi * total]
        return max(vals) if vals else 0

    q2, q4 = peak(0.25, 0.5), peak(0.75, 1.0 + 1e-9)
    running = [s for s in samples if s.done < total]
    return {
        "start_mib": round(samples[0].rss / MIB, 1),
        "peak_mib": round(max(s.rss for s in samples) / MIB, 1),
        "end_mib": round(samples[-1].rss / MIB, 1),
        "peak_q2_mib": round(q2 / MIB, 1), "peak_q4_mib": round(q4 / MIB, 1),
        "median_running_mib": round(sorted(s.rss for s in running)[len(running) // 2] / MIB, 1) if running else None,
        "growth_q4_over_q2": round(q4 / q2 - 1, 3) if q2 else None,
        "plateau": bool(q2 and q4 <= q2 * (1 + PLATEAU_GROWTH)),
        "by_role_end_mib": {r: round(samples[-1].roles.get(r, 0) / MIB, 1) for r in ROLES},
        "by_role_peak_mib": {r: round(max(s.roles.get(r, 0) for s in samples) / MIB, 1) for r in ROLES},
        "by_role_q2_peak_mib": {r: round(_role_peak(samples, r, 0.25 * total, 0.5 * total) / MIB, 1)
                                for r in ROLES},
    }


def _role_peak(samples: list[Sample], role: str, lo: float, hi: float) -> int:
    vals = [s.roles.get(role, 0) for s in samples if lo <= s.done < hi]
    return max(vals) if vals else 0


def write_csv(path: Path, curves: dict[str, list[Sample]]) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["allocator", "seconds", "previews_done", "rss_mib", *(f"{r}_mib" for r in ROLES)])
        for name, samples in curves.items():
            for s in samples:
                out.writerow([name, f"{s.t:.2f}", s.done, f"{s.rss / MIB:.1f}",
                              *(f"{s.roles.get(r, 0) / MIB:.1f}" for r in ROLES)])


CHART_SIZE = (900, 500)
MARGIN = 60
COLOURS = {"glibc": (200, 40, 40), "jemalloc": (30, 90, 200)}


def write_chart(path: Path, curves: dict[str, list[Sample]], total: int) -> None:
    """RSS (MiB) against previews completed, one line per allocator."""
    width, height = CHART_SIZE
    im = Image.new("RGB", CHART_SIZE, "white")
    draw = ImageDraw.Draw(im)
    top = max((s.rss for c in curves.values() for s in c), default=MIB) / MIB * 1.1
    x0, y0, x1, y1 = MARGIN, height - MARGIN, width - 20, 30
    draw.rectangle((x0, y1, x1, y0), outline="black")

    def xy(done: int, rss: int) -> tuple[float, float]:
        return x0 + (x1 - x0) * done / max(1, total), y0 - (y0 - y1) * (rss / MIB) / top

    for i in range(6):
        value = top * i / 5
        y = y0 - (y0 - y1) * i / 5
        draw.line((x0 - 4, y, x0, y), fill="black")
        draw.text((5, y - 6), f"{value:.0f}", fill="black")
        xv = x0 + (x1 - x0) * i / 5
        draw.text((xv - 10, y0 + 8), f"{total * i // 5}", fill="black")
    draw.text((x0, 8), "previewer tree RSS (MiB) vs previews completed", fill="black")
    for n, (name, samples) in enumerate(curves.items()):
        colour = COLOURS.get(name, (0, 0, 0))
        points = [xy(min(s.done, total), s.rss) for s in samples]
        rest = [xy(min(s.done, total), s.rss - s.roles.get("document", 0)) for s in samples]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
            draw.line(rest, fill=tuple(c // 2 + 127 for c in colour), width=1)
        draw.text((x1 - 330, y1 + 10 + 28 * n), f"{name}: all processes", fill=colour)
        draw.text((x1 - 330, y1 + 24 + 28 * n), f"{name}: without document workers",
                  fill=tuple(c // 2 + 127 for c in colour))
    im.save(path)


def read_csv(path: Path) -> dict[str, list[Sample]]:
    """The curves back from :func:`write_csv` (to redraw a chart)."""
    curves: dict[str, list[Sample]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            roles = {r: int(float(row[f"{r}_mib"]) * MIB) for r in ROLES if f"{r}_mib" in row}
            curves.setdefault(row["allocator"], []).append(
                Sample(float(row["seconds"]), int(row["previews_done"]), int(float(row["rss_mib"]) * MIB),
                       len(roles), roles))
    return curves
