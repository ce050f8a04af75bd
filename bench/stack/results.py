"""Environment description and the Markdown table of a whole-stack benchmark result."""

from __future__ import annotations

import os
import platform
import statistics
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from launch import ROOT
from wrkrun import WRK

NGINX = "/usr/sbin/nginx"


def _cmd(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (done.stdout + done.stderr).strip().splitlines()[0] if (done.stdout + done.stderr).strip() else "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _sysctl(name: str) -> str:
    try:
        return Path("/proc/sys/" + name.replace(".", "/")).read_text().strip()
    except OSError:
        return "?"


def environment() -> dict[str, Any]:
    soft, hard = __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE)
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nginx": _cmd([NGINX, "-v"]),
        "wrk": re.sub(r"\s+Copyright.*", "", _cmd([WRK, "--version"])),
        "aiohttp": _version("aiohttp"),
        "supervisor": _version("supervisor"),
        "git_commit": _cmd(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "ulimit_nofile": f"{soft}/{hard}",
        "somaxconn": _sysctl("net.core.somaxconn"),
        "tcp_max_syn_backlog": _sysctl("net.ipv4.tcp_max_syn_backlog"),
        "ip_local_port_range": _sysctl("net.ipv4.ip_local_port_range"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


CPU_COLUMNS = ("wrk", "nginx", "mailcapture", "previewer", "supervisord", "log relay")


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Repeats of one (endpoint, path, connections): medians of rates and latencies, sums of errors."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0].get("error", "no run") if runs else "no run"}
    statuses: dict[str, int] = {}
    for r in ok:
        for code, n in r["log"]["nginx_non2xx_statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    c5 = [r["c5xx"] for r in ok]
    return {
        "n": len(ok), "errors": len(runs) - len(ok),
        "rps": statistics.median(r["rps"] for r in ok),
        "rps_min": min(r["rps"] for r in ok), "rps_max": max(r["rps"] for r in ok),
        "p50_ms": statistics.median(r["p50_ms"] for r in ok),
        "p99_ms": statistics.median(r["p99_ms"] for r in ok),
        "max_ms": max(r["max_ms"] for r in ok),
        "non_2xx_3xx": sum(r["non_2xx_3xx"] for r in ok),
        "c5xx": None if None in c5 else sum(c5),
        "nginx_5xx_logged": sum(r["log"]["nginx_access"].get("5xx", 0) for r in ok),
        "nginx_non2xx_statuses": statuses,
        "listen_overflows_host": sum(r["tcpext_host_delta"].get("ListenOverflows", 0) for r in ok),
        "nginx_error_lines": sum(sum(r["log"]["nginx_error_lines"].values()) for r in ok),
        "socket_errors": {k: sum(r["socket_errors"][k] for r in ok) for k in ("connect", "read", "write", "timeout")},
        "cpu_s": {k: statistics.mean(r["cpu_s"].get(k, 0.0) for r in ok) for k in CPU_COLUMNS},
        "other_cpu_s": statistics.mean(r["other_cpu_s"] for r in ok),
        "seconds": statistics.mean(r["seconds"] for r in ok),
    }


def overhead(nginx: dict[str, Any], direct: dict[str, Any]) -> str:
    if "error" in nginx or "error" in direct or not direct.get("rps"):
        return ""
    rps = 100 * (nginx["rps"] / direct["rps"] - 1)
    return f"{rps:+.0f}% req/s, {nginx['p50_ms'] - direct['p50_ms']:+.2f} ms p50"


def table_rows(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One aggregated row per (endpoint, connections, path), nginx first, with the overhead on the nginx row."""
    keys = list(dict.fromkeys((r["endpoint"], r["connections"]) for r in profile["runs"]))
    rows = []
    for endpoint, conns in keys:
        pair = {}
        for path in ("nginx", "direct"):
            key = (endpoint, conns, path)
            runs = [r for r in profile["runs"] if (r["endpoint"], r["connections"], r["path"]) == key]
            pair[path] = {"endpoint": endpoint, "connections": conns, "path": path, **aggregate(runs)}
        pair["nginx"]["nginx_overhead"] = overhead(pair["nginx"], pair["direct"])
        rows += [pair["nginx"], pair["direct"]]
    return rows


def _c5(row: dict[str, Any]) -> str:
    if row["c5xx"] is not None:
        return str(row["c5xx"])
    return f"{row['nginx_5xx_logged']} (nginx log)" if row["path"] == "nginx" else "?"


def markdown(result: dict[str, Any]) -> str:
    lines = []
    for profile in result["profiles"]:
        lines.append(f"### Profile `{profile['name']}`: {profile['description']}\n")
        if "error" in profile:
            lines.append(f"**Failed:** {profile['error']}\n")
        repeat = result["settings"].get("repeat", 1)
        rps_head = f"req/s (median of {repeat}, min-max)" if repeat > 1 else "req/s"
        lines.append(f"| endpoint | path | conns | {rps_head} | p50 ms | p99 ms | max ms | non-2xx | 5xx | "
                     "sock err c/r/w/t | nginx vs direct | CPU s/run: wrk / nginx / capture / previewer / "
                     "supervisord / log relay | others' CPU s |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|")
        for row in table_rows(profile):
            head = f"| {row['endpoint']} | {row['path']} | {row['connections']} |"
            if "error" in row:
                lines.append(f"{head} error: {row['error'][:80]} |||||||||")
                continue
            rps = f"{row['rps']:.0f}" + (f" ({row['rps_min']:.0f}-{row['rps_max']:.0f})" if row["n"] > 1 else "")
            e = row["socket_errors"]
            cpu = " / ".join(f"{row['cpu_s'][k]:.1f}" for k in CPU_COLUMNS)
            lines.append(f"{head} {rps} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['max_ms']:.0f} | "
                         f"{row['non_2xx_3xx']} | {_c5(row)} | "
                         f"{e['connect']}/{e['read']}/{e['write']}/{e['timeout']} | "
                         f"{row.get('nginx_overhead', '')} | {cpu} | {row['other_cpu_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)
