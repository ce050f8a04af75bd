"""Latency and throughput rounds: the previewer (1 and 2 workers per queue, cache off) against the bare
library call, thumbor and vipsthumbnail — interleaved kind by kind inside each round, so a burst of load
from other users of the machine hits every contender alike. Ratios are taken per round; medians reported.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

import loadgen as lg
import refs
from gen_inputs import Input

THUMBOR_KINDS = ("jpeg12", "png", "jpeg64")  # thumbor's PIL engine renders images only
VIPS_KINDS = ("jpeg12", "png", "pdf", "jpeg64")
BARE_PARALLEL_KINDS = ("jpeg12", "png", "pdf", "video")  # bare call in 1 and 2 processes (machine ceiling)  # vipsthumbnail has no video loader
# Prometheus format label of each kind (previewer_render_seconds{format=...}).
FORMAT_OF = {"jpeg12": "jpeg", "jpeg64": "jpeg", "png": "png", "pdf": "pdf", "video": "video"}


@dataclass(frozen=True)
class Plan:
    rounds: int
    seq: dict[str, int]  # kind -> sequential requests per round
    per_client: dict[str, int]  # kind -> requests per client in a throughput run
    clients: tuple[int, ...] = (2, 4)
    vips_copies: int = 10
    tp_reps: int = 3  # interleaved repetitions of every throughput batch per round


@dataclass
class Subjects:
    inputs: dict[str, list[Input]]  # kind -> variants
    paths: dict[str, Path]  # sha256 -> file on disk (same bytes as the mail attachment)
    previewers: dict[int, str]  # workers per queue -> base URL
    thumbor: str | None
    vips: bool
    capture: str  # capture service base URL (direct blob GETs)
    workdir: Path
    rounds: list[dict[str, Any]] = field(default_factory=list)


def _urls(s: Subjects, kind: str, base: str) -> list[str]:
    return [lg.preview_url(base, i.sha256) for i in s.inputs[kind]]


def _thumbor_urls(s: Subjects, kind: str) -> list[str]:
    assert s.thumbor is not None
    return [refs.thumbor_url(s.thumbor, s.paths[i.sha256].name) for i in s.inputs[kind]]


async def warm_up(http: aiohttp.ClientSession, s: Subjects) -> None:
    """One request per variant and contender (imports, page cache, first-call costs out of the way)."""
    for kind in s.inputs:
        for base in s.previewers.values():
            for url in _urls(s, kind, base):
                await lg.fetch(http, url, "miss")
        if s.thumbor and kind in THUMBOR_KINDS:
            for url in _thumbor_urls(s, kind):
                await lg.fetch(http, url, None)


def _queue_of(kind: str) -> str:
    return "image" if kind in ("jpeg12", "jpeg64", "png") else "document" if kind == "pdf" else "video"


async def _scrape(http: aiohttp.ClientSession, base: str) -> tuple[dict[str, tuple[float, float]], ...]:
    return (await lg.metric_sums(http, base, "previewer_render_seconds", "format"),
            await lg.metric_sums(http, base, "previewer_task_duration_seconds", "queue"))


async def one_round(http: aiohttp.ClientSession, s: Subjects, plan: Plan, index: int) -> dict[str, Any]:
    """Per kind: n sequential items, each contender in turn for every item (bare call, direct blob GET
    from the capture service, previewer w1, w2, thumbor), then vipsthumbnail and the throughput runs."""
    result: dict[str, Any] = {"round": index, "latency": {}, "throughput": {}}
    for kind, variants in s.inputs.items():
        first = variants[0]
        bare_fn = refs.bare_call(kind, first.data, s.paths[first.sha256])
        contenders: dict[str, Callable[[], Awaitable[float]]] = {
            "bare": lambda fn=bare_fn: asyncio.to_thread(lg.time_once, fn),  # type: ignore[misc]
            "capture_blob": lambda: lg.fetch_blob(http, f"{s.capture}/internal/blob/{first.sha256}",
                                                  len(first.data))}
        for workers, base in s.previewers.items():
            contenders[f"previewer_w{workers}"] = (
                lambda url=lg.preview_url(base, first.sha256): lg.fetch(http, url, "miss"))  # type: ignore[misc]
        if s.thumbor and kind in THUMBOR_KINDS:
            contenders["thumbor"] = lambda url=_thumbor_urls(s, kind)[0]: lg.fetch(http, url, None)  # type: ignore[misc]
        before = {w: await _scrape(http, base) for w, base in s.previewers.items()}
        for call in contenders.values():
            await call()  # warm-up, not recorded
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(plan.seq[kind]):
            for name, call in contenders.items():
                samples[name].append(await call())
        after = {w: await _scrape(http, base) for w, base in s.previewers.items()}
        entry: dict[str, Any] = {}
        for name, lat in samples.items():
            entry[name] = {**lg.summary_ms(lat), "samples_ms": [round(x * 1000, 2) for x in lat]}
        for w in s.previewers:
            render = lg.mean_between(before[w][0], after[w][0], FORMAT_OF[kind])
            task = lg.mean_between(before[w][1], after[w][1], _queue_of(kind))
            entry[f"previewer_w{w}"]["worker_render_mean_ms"] = round(render * 1000, 2) if render else None
            entry[f"previewer_w{w}"]["worker_task_mean_ms"] = round(task * 1000, 2) if task else None
        if s.vips and kind in VIPS_KINDS:
            batch, single = await asyncio.to_thread(refs.vips_batch, s.paths[first.sha256], plan.vips_copies,
                                                    s.workdir)
            entry["vips"] = {"batch_per_item_ms": round(batch / plan.vips_copies * 1000, 2),
                             "single_process_ms": round(single * 1000, 2),
                             "marginal_per_item_ms": round((batch - single) / (plan.vips_copies - 1) * 1000, 2)}
        result["latency"][kind] = entry
        result["throughput"][kind] = await _throughput(http, s, plan, kind)
        if kind in BARE_PARALLEL_KINDS:
            result["throughput"][kind]["bare_parallel"] = [
                {"procs": procs, "per_second": round(await asyncio.to_thread(
                    refs.bare_parallel, kind, first.data, s.paths[first.sha256], procs,
                    plan.per_client[kind] * 2), 2)} for _ in range(plan.tp_reps) for procs in (1, 2)]
    return result


async def _throughput(http: aiohttp.ClientSession, s: Subjects, plan: Plan, kind: str) -> dict[str, Any]:
    """``plan.tp_reps`` repetitions; inside each, every (contender, clients) batch runs once, in turn, so
    the batches compared in a ratio ran seconds apart. Returns key -> per-repetition results."""
    per_client = plan.per_client[kind]
    contenders: dict[str, list[str]] = {f"previewer_w{w}": _urls(s, kind, base) for w, base in s.previewers.items()}
    if s.thumbor and kind in THUMBOR_KINDS:
        contenders["thumbor"] = _thumbor_urls(s, kind)
    out: dict[str, Any] = {}
    for _ in range(plan.tp_reps):
        for clients in plan.clients:
            for name, urls in contenders.items():
                if clients > len(urls):
                    continue  # fewer distinct inputs than clients: single flight would merge them
                client_urls = [[urls[c % len(urls)]] for c in range(clients)]
                t = await lg.concurrent(http, client_urls, per_client, None if name == "thumbor" else "miss")
                out.setdefault(f"{name}_c{clients}", []).append(
                    {"items": t.items, "seconds": round(t.seconds, 3), "per_second": round(t.per_second, 2),
                     "p50_ms": round(lg.percentile(t.latencies, 50) * 1000, 2)})
    return out


def _med(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def _pair_ratios(thr: list[dict[str, Any]], num: str, den: str) -> float | None:
    """Median of num/den over every (round, repetition): each pair ran back to back."""
    return _med([a["per_second"] / b["per_second"] for r in thr for a, b in zip(r[num], r[den])])


def summarise(rounds: list[dict[str, Any]], kinds: list[str], workers: list[int],
              clients: tuple[int, ...]) -> dict[str, Any]:
    """Per kind: median over rounds of each p50, pooled p99, per-round ratios and their medians."""
    out: dict[str, Any] = {}
    for kind in kinds:
        lat = [r["latency"][kind] for r in rounds]
        thr = [r["throughput"][kind] for r in rounds]
        names = [n for n in lat[0] if n != "vips"]
        keys = [key for key in thr[0] if all(key in r for r in thr) and key != "bare_parallel"]
        k: dict[str, Any] = {"latency": {}, "throughput": {}, "ratios": {}}
        for name in names:
            pooled = [x for r in lat for x in r[name]["samples_ms"]]
            k["latency"][name] = {
                "p50_ms_median_of_rounds": _med([r[name]["p50_ms"] for r in lat]),
                "p50_ms_rounds": [r[name]["p50_ms"] for r in lat],
                "p99_ms_pooled": round(lg.percentile(pooled, 99), 2), "n_pooled": len(pooled)}
            if name.startswith("previewer"):
                k["latency"][name]["worker_render_mean_ms"] = _med([r[name]["worker_render_mean_ms"] for r in lat])
                k["latency"][name]["worker_task_mean_ms"] = _med([r[name]["worker_task_mean_ms"] for r in lat])
        if "vips" in lat[0]:
            k["latency"]["vips"] = {f: _med([r["vips"][f] for r in lat]) for f in lat[0]["vips"]}
        for key in keys:
            reps = [x["per_second"] for r in thr for x in r[key]]
            k["throughput"][key] = {"per_second_median": _med(reps), "per_second_reps": reps,
                                    "items_per_rep": thr[0][key][0]["items"]}
        for w in workers:
            k["ratios"][f"overhead_w{w}_vs_bare_p50"] = _med(
                [r[f"previewer_w{w}"]["p50_ms"] / r["bare"]["p50_ms"] for r in lat])
            k["ratios"][f"overhead_w{w}_minus_blob_fetch_vs_bare_p50"] = _med(
                [(r[f"previewer_w{w}"]["p50_ms"] - r["capture_blob"]["p50_ms"]) / r["bare"]["p50_ms"] for r in lat])
        if "thumbor" in lat[0]:
            k["ratios"]["w1_p50_vs_thumbor_p50"] = _med(
                [r["previewer_w1"]["p50_ms"] / r["thumbor"]["p50_ms"] for r in lat])
            for c in clients:
                if f"thumbor_c{c}" not in keys:
                    continue
                k["ratios"][f"w1_c{c}_throughput_vs_thumbor"] = _pair_ratios(thr, f"previewer_w1_c{c}", f"thumbor_c{c}")
        if "bare_parallel" in thr[0]:
            runs = [x for r in thr for x in r["bare_parallel"]]
            one = [x["per_second"] for x in runs if x["procs"] == 1]
            two = [x["per_second"] for x in runs if x["procs"] == 2]
            k["throughput"]["bare_1proc"] = {"per_second_median": _med(one), "per_second_reps": one}
            k["throughput"]["bare_2proc"] = {"per_second_median": _med(two), "per_second_reps": two}
            k["ratios"]["bare_scaling_2proc_over_1proc"] = _med([b / a for a, b in zip(one, two)])
        if 1 in workers and 2 in workers:
            for c in clients:
                if f"previewer_w2_c{c}" not in keys:
                    continue
                k["ratios"][f"scaling_w2_over_w1_c{c}"] = _pair_ratios(thr, f"previewer_w2_c{c}", f"previewer_w1_c{c}")
        out[kind] = k
    return out
