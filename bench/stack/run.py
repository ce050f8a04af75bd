"""Whole-stack HTTP benchmark: nginx in front of the capture service and the previewer, measured with wrk.

    .venv/bin/python bench/stack/run.py            # both profiles, 30 s per wrk run: about 12 minutes
    .venv/bin/python bench/stack/run.py --quick    # 10 s per run, 100 mails: about 5 minutes
    .venv/bin/python bench/stack/run.py --profiles default --duration 20 --connections 64,256,512

Per profile: start docker/entrypoint.sh (supervisor + nginx + both services) on free 127.0.0.1 ports, send mails
over SMTP (half with a PNG or JPEG), warm one ``/preview/<id>?size=256`` so it sits in the previewer's cache, then
wrk (-t2 --latency) at each connection count against (1) the cached preview and (2) ``/api/v1/messages``, each
through nginx and directly at the service's own port. Writes bench/results/stack-<UTC>.json, stack.json and
stack.md. The stack is stopped with SIGTERM to the entrypoint and nothing of it is left running.
All traffic goes to 127.0.0.1; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import logscan  # noqa: E402
import mails  # noqa: E402
import results  # noqa: E402
import wrkrun  # noqa: E402
from launch import ROOT, Stack, StackError, cpu_delta, http_get  # noqa: E402
from profiles import PROFILES, profile_env  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
FULL = {"duration": 30, "mails": 200, "pause": 3.0}
QUICK = {"duration": 10, "mails": 100, "pause": 1.0}
CONNECTIONS = (64, 256)
MAX_CONNECTIONS = 4096
MAX_DURATION_S = 300
MAX_MAILS = 5000
MAX_REPEAT = 5
LOG_SETTLE_S = 1.0
PREVIEW_SIZE = 256
def listen_backlogs(ports: dict[str, int]) -> dict[str, int]:
    """The accept-queue size of each listening port (``ss -ltn``: Send-Q of a LISTEN socket)."""
    out: dict[str, int] = {}
    try:
        text = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return out
    by_port = {}
    for row in text.splitlines():
        parts = row.split()
        if len(parts) >= 4 and parts[3].rsplit(":", 1)[-1].isdigit():
            by_port[int(parts[3].rsplit(":", 1)[1])] = int(parts[2])
    for name, port in ports.items():
        if port in by_port:
            out[name] = by_port[port]
    return out


def host_busy() -> tuple[float, float, float]:
    """(busy CPU seconds over all CPUs, total CPU seconds, softirq seconds) so far; steal counts as not ours."""
    t = psutil.cpu_times()
    total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)  # guest is inside user already
    idle = t.idle + getattr(t, "iowait", 0.0) + getattr(t, "steal", 0.0)
    return total - idle, total, getattr(t, "softirq", 0.0)


def cache_counters(previewer_port: int) -> dict[str, float]:
    status, _, body = http_get(previewer_port, "/metrics")
    out: dict[str, float] = {}
    if status != 200:
        return out
    for line in body.decode("utf-8", "replace").splitlines():
        for name in ("previewer_cache_hits_total", "previewer_cache_misses_total"):
            if line.startswith(name + " "):
                out[name] = float(line.split()[1])
    return out


def one_run(stack: Stack, workdir: Path, spec: wrkrun.WrkRun, labels: dict[str, Any],
            logs: list[Path]) -> dict[str, Any]:
    """One wrk run with the stack's CPU, the host's CPU, TCP states and what the stack logged meanwhile."""
    run: dict[str, Any] = dict(labels)
    if http_get(stack.http, "/readyz", 5)[0] != 200:
        run["error"] = "stack not ready before the run"
        return run
    ports = {stack.http, stack.capture, stack.previewer}
    run["tcp_before"] = logscan.tcp_states(ports)
    offsets = [logscan.size(p) for p in logs]
    cpu0, busy0, net0 = stack.cpu_snapshot(), host_busy(), logscan.netstat()
    try:
        run.update(wrkrun.run(spec, workdir))
    except wrkrun.WrkError as exc:
        run["error"] = str(exc)
        return run
    busy1, cpu1, net1 = host_busy(), stack.cpu_snapshot(), logscan.netstat()
    run["tcpext_host_delta"] = logscan.counter_delta(net0, net1)
    time.sleep(LOG_SETTLE_S)
    run["tcp_after"] = logscan.tcp_states(ports)
    lines: list[str] = []
    for p, off in zip(logs, offsets):
        lines += logscan.read_from(p, off)[0]
    run["log"] = logscan.scan(lines)
    run["cpu_s"] = {**cpu_delta(cpu0, cpu1), "wrk": run["wrk_cpu_s"]}
    busy_s = busy1[0] - busy0[0]
    run["host_busy_pct"] = round(100 * busy_s / max(busy1[1] - busy0[1], 1e-9), 1)
    run["softirq_s"] = round(busy1[2] - busy0[2], 2)  # loopback TCP work not charged to a process
    run["other_cpu_s"] = round(max(busy_s - run["softirq_s"] - sum(run["cpu_s"].values()), 0.0), 1)
    run["ready_after"] = http_get(stack.http, "/readyz", 5)[0]
    return run


def print_run(run: dict[str, Any]) -> None:
    if "error" in run:
        print(f"ERROR {run['error'][:200]}", flush=True)
        return
    log = run["log"]
    print(f"{run['rps']:.0f} req/s p50 {run['p50_ms']} ms p99 {run['p99_ms']} ms non-2xx {run['non_2xx_3xx']} "
          f"sock {run['socket_errors_total']} nginx-non2xx {log['nginx_non2xx_statuses']} "
          f"nginx-errors {log['nginx_error_lines']} others {run['other_cpu_s']} cpu-s "
          f"host-tcp {run['tcpext_host_delta']}", flush=True)


def run_matrix(stack: Stack, workdir: Path, args: argparse.Namespace, preview: str,
               logs: list[Path]) -> list[dict[str, Any]]:
    """Every (repeat, endpoint, connections, path); the nginx/direct order alternates between repeats."""
    runs = []
    targets = (("preview", preview, stack.previewer), ("api", "/api/v1/messages", stack.capture))
    for rep in range(args.repeat):
        for endpoint, url_path, direct_port in targets:
            for conns in args.connections:
                paths = [("nginx", stack.http), ("direct", direct_port)]
                for path, port in (paths if rep % 2 == 0 else paths[::-1]):
                    print(f"   [{rep + 1}/{args.repeat}] {endpoint} {path} c={conns} {args.duration}s ...",
                          end=" ", flush=True)
                    spec = wrkrun.WrkRun(url=f"http://127.0.0.1:{port}{url_path}", connections=conns,
                                         duration_s=args.duration, timeout_s=args.timeout,
                                         status_classes=args.status_classes, nice=args.nice)
                    labels = {"endpoint": endpoint, "path": path, "connections": conns, "repeat": rep,
                              "url_path": url_path}
                    run = one_run(stack, workdir, spec, labels, logs)
                    print_run(run)
                    runs.append(run)
                    time.sleep(args.pause)
    return runs


def run_profile(name: str, args: argparse.Namespace, base: Path) -> dict[str, Any]:
    description = PROFILES[name][0]
    workdir = base / name
    env = profile_env(name, workdir)
    stack = Stack(workdir, env, nice=args.nice)
    out: dict[str, Any] = {"name": name, "description": description, "env": env, "runs": [],
                           "ports": {"nginx": stack.http, "capture": stack.capture, "previewer": stack.previewer,
                                     "smtp": stack.smtp}}
    print(f"== profile {name}: starting the stack (nginx :{stack.http}, capture :{stack.capture}, "
          f"previewer :{stack.previewer})", flush=True)
    try:
        stack.start()
        out["listen_backlog"] = listen_backlogs(out["ports"])
        out["mails"] = mails.send_mails(stack.smtp, args.mails)
        out["listed"] = mails.wait_total(stack.http, args.mails)
        pid = mails.first_preview_id(stack.http)
        preview = f"/preview/{pid}?size={PREVIEW_SIZE}"
        out["preview"] = {"path": preview, "warm_nginx": mails.warm_preview(stack.http, preview),
                          "warm_direct": mails.warm_preview(stack.previewer, preview)}
        status, _, body = http_get(stack.http, "/api/v1/messages")
        out["api_response_bytes"] = len(body) if status == 200 else None
        out["cache_before"] = cache_counters(stack.previewer)
        logs = [stack.log] + ([Path(env["STACK_ACCESS_LOG"])] if "STACK_ACCESS_LOG" in env else [])
        out["runs"] = run_matrix(stack, workdir, args, preview, logs)
        out["cache_after"] = cache_counters(stack.previewer)
    except (StackError, OSError, ValueError, KeyError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        print(f"   profile {name} failed: {out['error']}\n{stack.log_tail(2000)}", flush=True)
    finally:
        out["leftover_killed"] = stack.stop()
        out["stack_log_bytes"] = logscan.size(stack.log)
        out["supervisor_spawns"] = logscan.spawn_count(stack.log)  # 3 = nobody was restarted
        print(f"   stopped; processes left and killed: {out['leftover_killed']}", flush=True)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10 s per run, 100 mails")
    p.add_argument("--profiles", default="default,quiet", help="comma-separated: " + ", ".join(PROFILES))
    p.add_argument("--connections", default=",".join(map(str, CONNECTIONS)), help="comma-separated wrk -c values")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 30, 10 with --quick)")
    p.add_argument("--mails", type=int, help="mails to send (default 200, 100 with --quick)")
    p.add_argument("--timeout", type=int, default=2, help="wrk --timeout in seconds (wrk's default: 2)")
    p.add_argument("--status-classes", action="store_true",
                   help="count 4xx/5xx in wrk with a per-response Lua hook (costs client CPU)")
    p.add_argument("--repeat", type=int, default=1, help="repeat the matrix (nginx/direct order alternates)")
    p.add_argument("--nice", type=int, default=0, help="run the stack and wrk under nice -n N (root: N < 0)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (data, logs)")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    args.duration = args.duration or preset["duration"]
    args.mails = args.mails or preset["mails"]
    args.pause = preset["pause"]
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.profiles = [s.strip() for s in args.profiles.split(",") if s.strip()]
    if not 1 <= args.duration <= MAX_DURATION_S:
        p.error(f"--duration must be 1..{MAX_DURATION_S}")
    if not 1 <= args.mails <= MAX_MAILS:
        p.error(f"--mails must be 1..{MAX_MAILS}")
    if not args.connections or any(not 2 <= c <= MAX_CONNECTIONS for c in args.connections):
        p.error(f"--connections must be 2..{MAX_CONNECTIONS} each")
    if not 1 <= args.repeat <= MAX_REPEAT:
        p.error(f"--repeat must be 1..{MAX_REPEAT}")
    if not -20 <= args.nice <= 19:
        p.error("--nice must be -20..19")
    unknown = set(args.profiles) - set(PROFILES)
    if unknown or not args.profiles:
        p.error(f"unknown profile(s) {sorted(unknown)}; choose from {sorted(PROFILES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(wrkrun.WRK).exists():
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    started = datetime.now(timezone.utc)
    result: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "argv": sys.argv,
                              "settings": {"duration_s": args.duration, "mails": args.mails,
                                           "connections": args.connections, "wrk_timeout_s": args.timeout,
                                           "status_classes": args.status_classes, "quick": args.quick,
                                           "repeat": args.repeat, "nice": args.nice},
                              "environment": results.environment(), "profiles": []}
    base = Path(tempfile.mkdtemp(prefix="mc-stack-bench-"))
    try:
        for name in args.profiles:
            profile = run_profile(name, args, base)
            profile["summary"] = results.table_rows(profile)
            result["profiles"].append(profile)
    finally:
        if args.keep:
            print(f"work directory kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(result, indent=1)
    (RESULTS_DIR / f"stack-{stamp}.json").write_text(text)
    (RESULTS_DIR / "stack.json").write_text(text)
    md = results.markdown(result)
    (RESULTS_DIR / "stack.md").write_text(md)
    print(md)
    failed = any("error" in p for p in result["profiles"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
