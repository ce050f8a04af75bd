"""CPU time per thumbnail, by process: where the two cores go while the previewer runs flat out.

psutil ``cpu_times`` (user + system) of every process of each service tree (previewer service, its
image/document/video workers, the capture service, thumbor) and of this benchmark process, before and
after a batch of concurrent requests; the difference divided by the number of thumbnails.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
import psutil

import loadgen as lg
from stack import Service, WORKER_QUEUES


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def snapshot(services: dict[str, Service]) -> dict[str, float]:
    """CPU seconds so far: "<name>" for each service root, "<name>:<queue>" for previewer workers."""
    out: dict[str, float] = {"bench-client": _cpu(psutil.Process(os.getpid()))}
    for name, service in services.items():
        try:
            root = psutil.Process(service.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                cmd = p.cmdline()
                cpu = _cpu(p)
            except psutil.NoSuchProcess:
                continue
            key = name
            if p.pid != service.pid and "previewer.worker" in cmd and cmd[-1] in WORKER_QUEUES:
                key = f"{name}:{cmd[-1]}"
            out[key] = out.get(key, 0.0) + cpu
    return out


async def per_item(http: aiohttp.ClientSession, services: dict[str, Service], urls: list[str], clients: int,
                   per_client: int, expect_cache: str | None) -> dict[str, Any]:
    """Run ``clients`` x ``per_client`` requests; CPU milliseconds per thumbnail by process."""
    before = snapshot(services)
    t = await lg.concurrent(http, [[urls[c % len(urls)]] for c in range(clients)], per_client, expect_cache)
    after = snapshot(services)
    ms = {k: round((after[k] - before.get(k, 0.0)) / t.items * 1000, 2) for k in after}
    ms = {k: v for k, v in ms.items() if v > 0}
    return {"items": t.items, "per_second": round(t.per_second, 2), "cpu_ms_per_item": ms,
            "cpu_ms_per_item_total": round(sum(ms.values()), 2),
            "wall_ms_per_item": round(t.seconds / t.items * 1000, 2)}
