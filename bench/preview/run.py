"""Previewer benchmark, one command: ``.venv/bin/python bench/preview/run.py [--quick]``.

In one run, with the same inputs: generate them, mail them to the real capture service
(``mailcapture serve``, SMTP), read their preview ids from ``/api/v1/message/{ID}``, then measure the real
``previewer serve`` (cache off) against the bare library call, thumbor 7.8.0 and vipsthumbnail; queue
isolation; cached hits; memory over many mixed previews under glibc and jemalloc. Writes
``bench/results/preview.json`` (+ a time-stamped copy), ``preview-memory.csv``, ``preview-memory.png`` and
``preview.md`` (``--quick``: ``preview-quick*``). See bench/preview/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402

import compare  # noqa: E402
import cpu_account  # noqa: E402
import gen_inputs as gen  # noqa: E402
import isolation  # noqa: E402
import loadgen as lg  # noqa: E402
import memcurve  # noqa: E402
import refs  # noqa: E402
import report_md  # noqa: E402
import stack  # noqa: E402

RESULTS = stack.REPO / "bench" / "results"
CACHED_KINDS = ("jpeg12", "pdf")
LOAD_INTERVAL_S = 10.0
CPU_BATCH_FACTOR = 2  # CPU accounting batches are this many times a throughput batch


@dataclass(frozen=True)
class Config:
    quick: bool
    rounds: int
    scale: gen.Scale
    plan: compare.Plan
    iso_n: int
    iso_rounds: int
    cached_n: int
    memory_previews: int
    memory_clients: int
    thumbor: bool
    vips: bool
    memory: bool
    capture_env: dict[str, str] = field(default_factory=dict)
    previewer_env: dict[str, str] = field(default_factory=dict)


def make_config(args: argparse.Namespace) -> Config:
    if args.quick:
        scale = gen.Scale()
        seq = {"jpeg12": 8, "png": 8, "pdf": 10, "video": 8, "jpeg64": 3}
        per = {"jpeg12": 3, "png": 3, "pdf": 6, "video": 3, "jpeg64": 1}
        rounds, iso_n, iso_rounds, cached_n, mem = 1, 15, 1, 50, 200
    else:
        scale = gen.Scale()
        seq = {"jpeg12": 30, "png": 30, "pdf": 40, "video": 30, "jpeg64": 10}
        per = {"jpeg12": 6, "png": 6, "pdf": 16, "video": 8, "jpeg64": 2}
        rounds, iso_n, iso_rounds, cached_n, mem = 3, 40, 3, 300, 2000
    rounds = args.rounds or rounds
    plan = compare.Plan(rounds, seq, per, tp_reps=1 if args.quick else 3)
    return Config(args.quick, rounds, scale, plan, iso_n, iso_rounds, cached_n,
                  args.memory_previews or mem, 4, not args.no_thumbor and refs.thumbor_available(),
                  not args.no_vips and refs.vips_version() is not None, not args.no_memory,
                  dict(kv.split("=", 1) for kv in args.capture_env),
                  dict(kv.split("=", 1) for kv in args.previewer_env))


class LoadSampler:
    """1-minute load average every LOAD_INTERVAL_S in a thread (the machine is shared)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="loadavg")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.values.append(os.getloadavg()[0])
            self._stop.wait(LOAD_INTERVAL_S)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def summary(self) -> dict[str, float]:
        vals = sorted(self.values) or [0.0]
        return {"min": vals[0], "median": vals[len(vals) // 2], "max": vals[-1], "samples": len(self.values)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    import psutil

    versions = {}
    for dist in ("pillow", "pymupdf", "av", "aiohttp"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    versions["thumbor"] = refs.THUMBOR_VERSION if refs.thumbor_available() else None
    versions["libvips (vipsthumbnail)"] = refs.vips_version()
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1), "versions": versions,
            "loadavg_start": os.getloadavg()}


async def cpu_per_item(http: aiohttp.ClientSession, subjects: compare.Subjects,
                       contenders: dict[str, stack.Service], capture: stack.Service,
                       cfg: Config) -> dict[str, Any]:
    """Per kind and contender: one batch of concurrent requests with CPU accounting of every process."""
    out: dict[str, Any] = {}
    for kind, variants in subjects.inputs.items():
        clients = min(4, len(variants))
        for name, service in contenders.items():
            if name == "thumbor":
                if kind not in compare.THUMBOR_KINDS or subjects.thumbor is None:
                    continue
                urls = [refs.thumbor_url(subjects.thumbor, subjects.paths[i.sha256].name) for i in variants]
                expect = None
            else:
                base = subjects.previewers[int(name.removeprefix("previewer_w"))]
                urls = [lg.preview_url(base, i.sha256) for i in variants]
                expect = "miss"
            out.setdefault(kind, {})[name] = await cpu_account.per_item(
                http, {name: service, "capture": capture}, urls, clients,
                cfg.plan.per_client[kind] * CPU_BATCH_FACTOR, expect)
    return out


async def cached_hits(capture_url: str, workdir: Path, subjects: compare.Subjects, n: int,
                      env: dict[str, str]) -> dict[str, Any]:
    """Disk cache on: one miss, then ``n`` hits (X-Preview-Cache: hit) per kind."""
    prev = stack.start_previewer(workdir / "cached", capture_url, 2, cache=True, extra_env=env)
    try:
        out: dict[str, Any] = {}
        async with lg.session(4) as http:
            for kind in CACHED_KINDS:
                url = lg.preview_url(prev.url, subjects.inputs[kind][0].sha256)
                await lg.fetch(http, url, "miss")
                out[kind] = lg.summary_ms(await lg.sequential(http, [url], n, "hit"))
        return out
    finally:
        prev.service.stop()


async def memory_runs(capture_url: str, workdir: Path, subjects: compare.Subjects,
                      cfg: Config) -> tuple[dict[str, Any], dict[str, list[memcurve.Sample]]]:
    results: dict[str, Any] = {}
    curves: dict[str, list[memcurve.Sample]] = {}
    for allocator in ("glibc", "jemalloc"):
        log(f"memory: {cfg.memory_previews} mixed previews under {allocator}")
        prev = stack.start_previewer(workdir / f"mem-{allocator}", capture_url, 2, jemalloc=allocator == "jemalloc",
                                     extra_env=cfg.previewer_env)
        try:
            urls = {k: [lg.preview_url(prev.url, i.sha256) for i in v] for k, v in subjects.inputs.items()}
            run = await memcurve.drive(prev.url, urls, cfg.memory_previews, cfg.memory_clients,
                                       prev.service.rss_by_role)
        finally:
            prev.service.stop()
        curves[allocator] = run.pop("samples")
        results[allocator] = {**run, **memcurve.analyse(curves[allocator], cfg.memory_previews),
                              "seconds": round(run["seconds"], 1)}
    return results, curves


async def main_async(cfg: Config, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"environment": environment(), "quick": cfg.quick, "rounds": cfg.rounds,
                           "niceness": os.nice(0), "command": " ".join(sys.argv), "capture_env": cfg.capture_env,
                           "previewer_env": cfg.previewer_env}
    t0 = time.perf_counter()
    log("generating inputs")
    inputs = gen.main_inputs(cfg.scale)
    backlog = gen.isolation_inputs(cfg.scale)
    everything = [i for v in inputs.values() for i in v] + backlog
    paths = gen.write_all(everything, workdir / "inputs")
    out["inputs"] = {k: [{"name": i.name, "bytes": len(i.data), "sha256": i.sha256} for i in v]
                     for k, v in inputs.items()}
    out["inputs"]["backlog"] = {"pdfs": cfg.scale.isolation_pdfs, "videos": cfg.scale.isolation_videos}
    log(f"inputs ready ({time.perf_counter() - t0:.1f} s); starting mailcapture")
    capture = stack.start_capture(workdir / "capture", cfg.capture_env)
    services: list[stack.Service] = [capture.service]
    try:
        mails = stack.deliver(capture, everything, "previewer benchmark")
        stack.preview_ids(capture, everything)
        waited = stack.wait_decoded(workdir / "capture")
        log(f"the capture store keeps every big base64 input decoded ({waited:.1f} s after delivery)")
        log(f"{len(everything)} inputs delivered in {mails} mails; preview ids verified")
        previewers = {}
        prev_services: dict[str, stack.Service] = {}
        for workers in (1, 2):
            prev = stack.start_previewer(workdir / f"w{workers}", capture.http_url, workers,
                                         extra_env=cfg.previewer_env)
            services.append(prev.service)
            previewers[workers] = prev.url
            prev_services[f"previewer_w{workers}"] = prev.service
        thumbor_url = None
        if cfg.thumbor:
            svc, thumbor_url = refs.start_thumbor(workdir / "inputs", workdir / "thumbor")
            services.append(svc)
            prev_services["thumbor"] = svc
        subjects = compare.Subjects(inputs, paths, previewers, thumbor_url, cfg.vips, capture.http_url, workdir)
        async with lg.session(16) as http:
            log("warm-up")
            await compare.warm_up(http, subjects)
            rounds = []
            for r in range(cfg.rounds):
                log(f"comparison round {r + 1}/{cfg.rounds}")
                rounds.append(await compare.one_round(http, subjects, cfg.plan, r))
            log("CPU time per thumbnail, by process")
            out["cpu"] = await cpu_per_item(http, subjects, prev_services, capture.service, cfg)
            # How each previewer got its inputs: "direct" (its workers read the capture store's file) or over
            # HTTP ("streamed", "memory", "file").
            out["inputs_by_how"] = {f"previewer_w{w}": await lg.counter_values(http, url, "previewer_inputs", "how")
                                    for w, url in previewers.items()}
            for w, url in previewers.items():  # of the direct ones, read as kept decoded by the capture store
                kept = await lg.counter_values(http, url, "previewer_decoded_inputs", "")
                out["inputs_by_how"][f"previewer_w{w}"]["of which kept decoded"] = sum(kept.values())
        out["comparison_rounds"] = rounds
        out["comparison"] = compare.summarise(rounds, list(inputs), list(previewers), cfg.plan.clients)
        out["isolation"] = {}
        backlog_ids = [i.sha256 for i in backlog]
        for workers, base in previewers.items():
            log(f"queue isolation, {workers} worker(s) per queue")
            image = inputs["jpeg12"][0]
            out["isolation"][f"w{workers}"] = await isolation.measure(
                base, lg.preview_url(base, image.sha256), f"{capture.http_url}/internal/blob/{image.sha256}",
                len(image.data),
                [lg.preview_url(base, b) for b in backlog_ids], cfg.iso_n, cfg.iso_rounds,
                cfg.scale.isolation_pdfs, cfg.scale.isolation_videos)
        for svc in services[1:]:
            svc.stop()
        services = services[:1]
        log("cached hits")
        out["cached"] = await cached_hits(capture.http_url, workdir, subjects, cfg.cached_n, cfg.previewer_env)
        if cfg.memory:
            out["memory"], curves = await memory_runs(capture.http_url, workdir, subjects, cfg)
            name = "preview-quick-memory" if cfg.quick else "preview-memory"
            memcurve.write_csv(RESULTS / f"{name}.csv", curves)
            memcurve.write_chart(RESULTS / f"{name}.png", curves, cfg.memory_previews)
    finally:
        for svc in services:
            svc.stop()
    out["environment"]["loadavg_end"] = os.getloadavg()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaled down: 1 round, few requests, 200 previews")
    parser.add_argument("--rounds", type=int, default=0, help="comparison rounds (default 3, quick 1)")
    parser.add_argument("--memory-previews", type=int, default=0, help="previews per allocator (default 2000)")
    parser.add_argument("--previewer-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for every previewer (e.g. PREVIEWER_DIRECT_READ=off: inputs over HTTP)")
    parser.add_argument("--capture-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the capture service only (what-if runs); repeatable")
    parser.add_argument("--no-thumbor", action="store_true")
    parser.add_argument("--no-vips", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (inputs, data, logs)")
    parser.add_argument("--nice", type=int, default=0,
                        help="add this to the niceness of the whole run (every service inherits it); negative "
                             "values (root) shield the measurement from other work on a shared machine")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    cfg = make_config(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="preview-bench-"))
    try:
        with LoadSampler() as load:
            out = asyncio.run(main_async(cfg, workdir))
        out["environment"]["loadavg_1min_during_run"] = load.summary()
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suffix = "-quick" if cfg.quick else ""
    text = json.dumps(out, indent=1)
    (RESULTS / f"preview{suffix}.json").write_text(text)
    (RESULTS / f"preview{suffix}-{stamp}.json").write_text(text)
    md = report_md.render(out)
    (RESULTS / f"preview{suffix}.md").write_text(md)
    print(md)
    log(f"done in {out['seconds']} s; results in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
