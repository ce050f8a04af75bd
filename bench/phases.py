"""The measurement phases shared by the sequential runner and the interleaved one: the messages, and turning
raw client results, RSS samples, disk usage and attachment fetches into the JSON figures of one target."""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gen
import httpfetch
import psutil
import rawclient
import report
import targets as tg

LARGE_DEADLINE_S = 600.0
SMALL_DEADLINE_S = 300.0


@dataclass
class Messages:
    large: list[bytes]  # dot-stuffed
    large_size: int
    attachment5: list[bytes]  # decoded 5th attachment of each large message
    small: list[bytes]  # dot-stuffed
    small_size: int


def build_messages(large_count: int, small_count: int) -> Messages:
    large, att5, size = [], [], 0
    for i in range(large_count):
        msg = gen.large_message(i)
        size = len(msg.raw)
        large.append(rawclient.dot_stuff(msg.raw))
        att5.append(msg.attachments[httpfetch.ATTACHMENT_INDEX].data)
    small = [gen.small_message(i) for i in range(small_count)]
    return Messages(large, size, att5, [rawclient.dot_stuff(m) for m in small], len(small[0]) if small else 0)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process tree (descendants still running)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_write_bytes(pid: int) -> int:
    """Bytes the process tree caused to be written to storage so far (/proc/PID/io write_bytes)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.io_counters().write_bytes
        except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
            pass
    return total


def new_result(spec: tg.TargetSpec) -> dict[str, Any]:
    return {"name": spec.name, "kind": spec.kind, "compression": spec.compression}


def record_start(out: dict[str, Any], target: tg.RunningTarget) -> None:
    out["startup_s"] = round(target.startup_seconds, 2)
    out["idle_rss"] = tg.tree_rss(target.pid)


def record_large(out: dict[str, Any], large: rawclient.LargeRunResult, size: int, sampler: tg.RssSampler,
                 cpu_s: float, written: int = 0) -> None:
    out["large"] = {
        "count": len(large.timings), "size": size,
        "median_mb_s": round(large.median_mb_per_s, 1), "total_mb_s": round(large.total_mb_per_s, 1),
        "per_message_mb_s": [round(t.mb_per_s, 1) for t in large.timings],
        "per_message_ms": [round(1000 * t.seconds, 1) for t in large.timings],
        "peak_rss": sampler.peak, "peak_rss_by_process": sampler.peak_breakdown,
        "rss_samples": sampler.samples,
        "target_cpu_s_per_message": round(cpu_s / max(1, len(large.timings)), 3),
        "target_written_mb_per_message": round(written / report.MB / max(1, len(large.timings)), 1),
        "error": large.error,
    }
    print(f"   {out['name']} large: median {large.median_mb_per_s:.1f} MB/s, total {large.total_mb_per_s:.1f} MB/s, "
          f"peak RSS {sampler.peak / report.MB:.0f} MB, target CPU {cpu_s / max(1, len(large.timings)):.2f} s/msg"
          + (f", ERROR {large.error}" if large.error else ""), flush=True)


DISK_SETTLE_S = 2.0  # every target gets this long after its last 250 before its data directory is measured


def settled_dir_size(path: Path) -> int:
    """The data directory's size once the target had a moment to settle: a store may still be copying
    its write-ahead log into place right after the last 250 (mailcapture empties its WAL file after 1 s
    without commits). The same grace for every target."""
    time.sleep(DISK_SETTLE_S)
    return tg.dir_size(path)


def record_disk_and_fetch(out: dict[str, Any], target: tg.RunningTarget, msgs: Messages,
                          large: rawclient.LargeRunResult, args: argparse.Namespace) -> None:
    if target.data_dir is not None and large.timings:
        disk = settled_dir_size(target.data_dir)
        out["disk_after_large"] = disk
        out["disk_ratio"] = round(disk / large.total_bytes, 3)
        print(f"   {out['name']} data on disk: {disk / report.MB:.0f} MB ({out['disk_ratio']:.2f}x raw)", flush=True)
    kind = target.spec.kind
    fetcher = {"mailcapture": httpfetch.fetch_mailcapture, "maildev": httpfetch.fetch_maildev}.get(kind)
    if fetcher is None or target.http_port is None or not large.timings or args.fetch_repeats <= 0:
        return
    if kind == "maildev" and args.no_maildev_fetch:
        return
    try:
        res = fetcher(target.http_port, lambda i: msgs.attachment5[i], args.fetch_repeats)
    except (OSError, httpfetch.FetchError, KeyError, TypeError, ValueError) as exc:
        res = httpfetch.FetchResult(error=f"{type(exc).__name__}: {exc}")
    out["fetch"] = res.to_json()
    print(f"   {out['name']} fetch 5th attachment: p50 {res.p50_ms:.1f} ms, p99 {res.p99_ms:.1f} ms"
          + (f", ERROR {res.error}" if res.error else ""), flush=True)


def record_small(out: dict[str, Any], small: rawclient.SmallRunResult, count: int, concurrency: int,
                 sampler: tg.RssSampler) -> None:
    lat = sorted(small.latencies)
    out["small"] = {
        "count": count, "sent": small.sent, "failed": small.failed,
        "concurrency": concurrency, "msgs_per_s": round(small.messages_per_s, 1),
        "latency_p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
        "peak_rss": sampler.peak, "errors": small.errors,
    }
    print(f"   {out['name']} small: {small.messages_per_s:.0f} msgs/s ({small.sent} sent, {small.failed} failed)",
          flush=True)


def finish(out: dict[str, Any], target: tg.RunningTarget, keep_data: bool) -> None:
    """Stop the target; record its exit, the data dir size after stop, and its log tail if anything failed."""
    out["alive_at_end"] = target.alive()
    if any((out.get(k) or {}).get("error") or (out.get(k) or {}).get("errors") for k in ("large", "small", "fetch")):
        out["log_tail"] = target.log_tail()
    out["exit_code"] = target.stop()
    if target.data_dir is not None:
        out["disk_after_stop"] = tg.dir_size(target.data_dir)
        if not keep_data:
            shutil.rmtree(target.data_dir, ignore_errors=True)
