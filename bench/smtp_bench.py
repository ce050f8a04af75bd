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
import os
import shlex
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen  # noqa: E402
import interleave  # noqa: E402
import phases  # noqa: E402
import rawclient  # noqa: E402
import report  # noqa: E402
import targets as tg  # noqa: E402
from phases import Messages  # noqa: E402

RESULTS_DIR = tg.BENCH_DIR / "results"
DEFAULT_TARGETS = "sink,maildev,mailcapture"
FULL = {"large": 20, "small": 1000, "fetch": 20}
QUICK = {"large": 3, "small": 100, "fetch": 5}
MAX_REPEAT = 10


def run_target(spec: tg.TargetSpec, msgs: Messages, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One target at a time: start, large run, disk + fetch, small run, stop."""
    out = phases.new_result(spec)
    print(f"== {spec.name}: starting", flush=True)
    try:
        target = tg.start_target(spec, workdir, args.nice, args.mailcapture_env)
    except tg.TargetError as exc:
        out["error"] = str(exc)
        print(f"   {spec.name}: {exc}", flush=True)
        return out
    try:
        phases.record_start(out, target)
        if msgs.large:
            cpu0, io0 = phases.tree_cpu_seconds(target.pid), phases.tree_write_bytes(target.pid)
            with tg.RssSampler(target.pid) as sampler:
                large = rawclient.run_large(tg.HOST, target.smtp_port, len(msgs.large),
                                            lambda i: (msgs.large[i], msgs.large_size), gen.SENDER, gen.RECIPIENTS,
                                            phases.LARGE_DEADLINE_S)
            phases.record_large(out, large, msgs.large_size, sampler, phases.tree_cpu_seconds(target.pid) - cpu0,
                                phases.tree_write_bytes(target.pid) - io0)
            phases.record_disk_and_fetch(out, target, msgs, large, args)
        if msgs.small:
            with tg.RssSampler(target.pid) as sampler:
                small = rawclient.run_small(tg.HOST, target.smtp_port, msgs.small, gen.SENDER, gen.RECIPIENTS,
                                            concurrency=args.concurrency, deadline_s=phases.SMALL_DEADLINE_S)
            phases.record_small(out, small, len(msgs.small), args.concurrency, sampler)
    finally:
        phases.finish(out, target, args.keep_data)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default=DEFAULT_TARGETS,
                   help="comma list: sink, aiosmtpd (stock, stores nothing; opt-in), maildev, "
                        "mailcapture (levels 0,1,3) "
                        "or mailcapture-zN (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help=f"scale down: {QUICK}")
    p.add_argument("--large", type=int, help=f"large messages per target (default {FULL['large']})")
    p.add_argument("--small", type=int, help=f"small messages per target (default {FULL['small']})")
    p.add_argument("--fetch-repeats", type=int, help=f"attachment GETs (default {FULL['fetch']})")
    p.add_argument("--concurrency", type=int, default=1, help="client threads for the small run (default 1)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the whole target sequence this many times; targets judged on medians (default 1)")
    p.add_argument("--interleave", action="store_true",
                   help="run all targets at once and take turns per message (fairer on a shared, noisy machine)")
    p.add_argument("--nice", type=int, default=None,
                   help="scheduling priority for the client and the targets, e.g. -10 (needs root) to shield the "
                        "measurement from other work on the machine")
    p.add_argument("--mailcapture-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the mailcapture targets only, e.g. "
                        "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576 (repeatable)")
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
    bad = [kv for kv in args.mailcapture_env if "=" not in kv or not kv.split("=", 1)[0]]
    if bad:
        p.error(f"--mailcapture-env needs KEY=VALUE, got {bad[0]!r}")
    args.mailcapture_env = dict(kv.split("=", 1) for kv in args.mailcapture_env)
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
    if args.nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    msgs = phases.build_messages(args.large, args.small)
    load_before = report.machine_load()
    workdir = Path(tempfile.mkdtemp(prefix="smtp-bench-"))
    results = []
    try:
        for repeat in range(args.repeat):
            if args.repeat > 1:
                print(f"-- repeat {repeat + 1}/{args.repeat}", flush=True)
            if args.interleave:
                runs = interleave.run_interleaved(args.specs, msgs, args, workdir)
            else:
                runs = [run_target(spec, msgs, args, workdir) for spec in args.specs]
            results.extend({"repeat": repeat, **run} for run in runs)
    finally:
        if not args.keep_data:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "started_utc": started.strftime("%Y-%m-%d %H:%M:%S"),
        "duration_s": round(time.perf_counter() - t0, 1),
        "environment": report.environment(tg.REPO_DIR, tg.MAILDEV_DIR),
        "load_before": load_before,
        "load_after": report.machine_load(),
        "params": {"command": args.command, "large_count": args.large, "large_size": msgs.large_size,
                   "small_count": args.small, "small_size": msgs.small_size, "small_concurrency": args.concurrency,
                   "repeat": args.repeat, "interleave": args.interleave,
                   "nice": args.nice, "mailcapture_env": args.mailcapture_env,
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
