"""SMTP ingest benchmark: the bare sink (floor), MailDev (peer) and ``mailcapture serve`` at compression 0, 1 and 3,
side by side in one run, with the same raw-socket client.

    bench/setup_peers.sh                      # once: installs MailDev 3.0.0 (npm, with overrides)
    .venv/bin/python bench/smtp_bench.py      # everything: ~5 minutes (MailDev's 1000 small mails take ~2)
    .venv/bin/python bench/smtp_bench.py --quick --targets sink,maildev

Per target: (a) N large (37.5 MB) messages over one connection: MB/s, peak RSS of the process tree;
(b) M small (5 kB) messages, a new connection each: msgs/s; (c) for mailcapture (and MailDev): data on disk
after the large run and the fetch time of the 5th attachment of a large message.
Writes bench/results/smtp-<UTC time>.json, bench/results/smtp.json and bench/results/smtp.md and prints the table.
All traffic goes to 127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen  # noqa: E402
import httpfetch  # noqa: E402
import psutil  # noqa: E402
import rawclient  # noqa: E402
import report  # noqa: E402
import targets as tg  # noqa: E402

RESULTS_DIR = tg.BENCH_DIR / "results"
DEFAULT_TARGETS = "sink,maildev,mailcapture"
FULL = {"large": 20, "small": 1000, "fetch": 20}
QUICK = {"large": 3, "small": 100, "fetch": 5}
LARGE_DEADLINE_S = 600.0
SMALL_DEADLINE_S = 300.0
MAX_REPEAT = 10


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


def _tree_cpu_seconds(pid: int) -> float:
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


def run_target(spec: tg.TargetSpec, msgs: Messages, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "compression": spec.compression}
    print(f"== {spec.name}: starting", flush=True)
    try:
        target = tg.start_target(spec, workdir)
    except tg.TargetError as exc:
        out["error"] = str(exc)
        print(f"   {spec.name}: {exc}", flush=True)
        return out
    try:
        out["startup_s"] = round(target.startup_seconds, 2)
        out["idle_rss"] = tg.tree_rss(target.pid)
        host, port = tg.HOST, target.smtp_port

        if msgs.large:
            cpu0 = _tree_cpu_seconds(target.pid)
            with tg.RssSampler(target.pid) as sampler:
                large = rawclient.run_large(host, port, len(msgs.large), lambda i: (msgs.large[i], msgs.large_size),
                                            gen.SENDER, gen.RECIPIENTS, LARGE_DEADLINE_S)
            cpu = _tree_cpu_seconds(target.pid) - cpu0
            out["large"] = {
                "count": len(large.timings), "size": msgs.large_size,
                "median_mb_s": round(large.median_mb_per_s, 1), "total_mb_s": round(large.total_mb_per_s, 1),
                "per_message_mb_s": [round(t.mb_per_s, 1) for t in large.timings],
                "per_message_ms": [round(1000 * t.seconds, 1) for t in large.timings],
                "peak_rss": sampler.peak, "peak_rss_by_process": sampler.peak_breakdown,
                "rss_samples": sampler.samples,
                "target_cpu_s_per_message": round(cpu / max(1, len(large.timings)), 3), "error": large.error,
            }
            print(f"   large: median {large.median_mb_per_s:.1f} MB/s, total {large.total_mb_per_s:.1f} MB/s, "
                  f"peak RSS {sampler.peak / report.MB:.0f} MB" + (f", ERROR {large.error}" if large.error else ""),
                  flush=True)
            if target.data_dir is not None and large.timings:
                disk = tg.dir_size(target.data_dir)
                out["disk_after_large"] = disk
                out["disk_ratio"] = round(disk / large.total_bytes, 3)
                print(f"   data on disk: {disk / report.MB:.0f} MB ({out['disk_ratio']:.2f}x raw)", flush=True)
            fetcher = {"mailcapture": httpfetch.fetch_mailcapture, "maildev": httpfetch.fetch_maildev}.get(spec.kind)
            if fetcher is not None and target.http_port is not None and large.timings and args.fetch_repeats > 0 \
                    and not (spec.kind == "maildev" and args.no_maildev_fetch):
                try:
                    res = fetcher(target.http_port, lambda i: msgs.attachment5[i], args.fetch_repeats)
                except (OSError, httpfetch.FetchError, KeyError, TypeError, ValueError) as exc:
                    res = httpfetch.FetchResult(error=f"{type(exc).__name__}: {exc}")
                out["fetch"] = res.to_json()
                print(f"   fetch 5th attachment: p50 {res.p50_ms:.1f} ms, p99 {res.p99_ms:.1f} ms"
                      + (f", ERROR {res.error}" if res.error else ""), flush=True)

        if msgs.small:
            with tg.RssSampler(target.pid) as sampler:
                small = rawclient.run_small(host, port, msgs.small, gen.SENDER, gen.RECIPIENTS,
                                            concurrency=args.concurrency, deadline_s=SMALL_DEADLINE_S)
            lat = sorted(small.latencies)
            out["small"] = {
                "count": len(msgs.small), "sent": small.sent, "failed": small.failed,
                "concurrency": args.concurrency, "msgs_per_s": round(small.messages_per_s, 1),
                "latency_p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
                "peak_rss": sampler.peak, "errors": small.errors,
            }
            print(f"   small: {small.messages_per_s:.0f} msgs/s ({small.sent} sent, {small.failed} failed)", flush=True)
        out["alive_at_end"] = target.alive()
    finally:
        if any((out.get(k) or {}).get("error") or (out.get(k) or {}).get("errors") for k in ("large", "small", "fetch")):
            out["log_tail"] = target.log_tail()
        rc = target.stop()
        out["exit_code"] = rc
        if target.data_dir is not None:
            out["disk_after_stop"] = tg.dir_size(target.data_dir)
        if not args.keep_data and target.data_dir is not None:
            shutil.rmtree(target.data_dir, ignore_errors=True)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default=DEFAULT_TARGETS,
                   help="comma list: sink, maildev, mailcapture (levels 0,1,3) or mailcapture-zN (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help=f"scale down: {QUICK}")
    p.add_argument("--large", type=int, help=f"large messages per target (default {FULL['large']})")
    p.add_argument("--small", type=int, help=f"small messages per target (default {FULL['small']})")
    p.add_argument("--fetch-repeats", type=int, help=f"attachment GETs (default {FULL['fetch']})")
    p.add_argument("--concurrency", type=int, default=1, help="client threads for the small run (default 1)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the whole target sequence this many times; targets judged on medians (default 1)")
    p.add_argument("--no-maildev-fetch", action="store_true", help="skip MailDev's attachment fetch")
    p.add_argument("--keep-data", action="store_true", help="keep data dirs and logs (printed at the end)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory (default bench/results)")
    args = p.parse_args(argv)
    scale = QUICK if args.quick else FULL
    args.large = scale["large"] if args.large is None else args.large
    args.small = scale["small"] if args.small is None else args.small
    args.fetch_repeats = scale["fetch"] if args.fetch_repeats is None else args.fetch_repeats
    for name in ("large", "small", "fetch_repeats"):
        if not 0 <= getattr(args, name) <= 100_000:
            p.error(f"--{name.replace('_', '-')} must be 0..100000")
    if not 1 <= args.repeat <= MAX_REPEAT:
        p.error(f"--repeat must be 1..{MAX_REPEAT}")
    if not 1 <= args.concurrency <= rawclient.MAX_CONCURRENCY:
        p.error(f"--concurrency must be 1..{rawclient.MAX_CONCURRENCY}")
    try:
        args.specs = tg.target_specs([t.strip() for t in args.targets.split(",") if t.strip()])
    except ValueError as exc:
        p.error(str(exc))
    args.command = " ".join(["python bench/smtp_bench.py", *(shlex.quote(a) for a in (argv or sys.argv[1:]))])
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    print(f"generating {args.large} large and {args.small} small messages ...", flush=True)
    msgs = build_messages(args.large, args.small)
    workdir = Path(tempfile.mkdtemp(prefix="smtp-bench-"))
    results = []
    try:
        for repeat in range(args.repeat):
            if args.repeat > 1:
                print(f"-- repeat {repeat + 1}/{args.repeat}", flush=True)
            for spec in args.specs:
                results.append({"repeat": repeat, **run_target(spec, msgs, args, workdir)})
    finally:
        if not args.keep_data:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "started_utc": started.strftime("%Y-%m-%d %H:%M:%S"),
        "duration_s": round(time.perf_counter() - t0, 1),
        "environment": report.environment(tg.REPO_DIR, tg.MAILDEV_DIR),
        "params": {"command": args.command, "large_count": args.large, "large_size": msgs.large_size,
                   "small_count": args.small, "small_size": msgs.small_size, "small_concurrency": args.concurrency,
                   "repeat": args.repeat,
                   "fetch_repeats": args.fetch_repeats,
                   "attachment_size": len(msgs.attachment5[0]) if msgs.attachment5 else 0},
        "targets": results,
    }
    result["checks"] = report.checks(results)
    md = report.render_markdown(result)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for path in (args.out / f"smtp-{stamp}.json", args.out / "smtp.json"):
        path.write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "smtp.md").write_text(md)
    print()
    print(md)
    print(f"written: {args.out / 'smtp.json'}, {args.out / f'smtp-{stamp}.json'}, {args.out / 'smtp.md'}")
    if args.keep_data:
        print(f"data and logs kept in {workdir}")
    return 0 if all("error" not in t for t in results) else 1


if __name__ == "__main__":
    sys.exit(main())
