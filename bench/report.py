"""Environment description, target checks and the Markdown rendering of a ``smtp_bench`` result."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

MB = 1e6
MIB = 1 << 20
RSS_LIMIT_BYTES = 200 * MB  # "peak RSS under 200 MB" (decimal MB: the stricter reading)
SMALL_TARGET_PER_S = 300.0
FETCH_P50_LIMIT_MS = 100.0
LEVEL0_SIZE_RATIO_LIMIT = 1.1
RATIO_TARGETS = {1: 3.0, 3: 2.0}  # compression level -> required multiple of MailDev's MB/s


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() or "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 / (1 << 30)
    except OSError:
        pass
    return 0.0


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_load() -> dict[str, Any]:
    """Load average and CPU pressure (PSI "some" avg10/avg60): how busy the machine was with other work."""
    out: dict[str, Any] = {"loadavg": [round(x, 2) for x in os.getloadavg()]}
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        out["cpu_pressure_some"] = {k: float(v) for k, v in (f.split("=") for f in some[1:3])}
    except (OSError, ValueError, IndexError):
        pass
    return out


def environment(repo_dir: Path, maildev_dir: Path) -> dict[str, Any]:
    maildev_pkg = maildev_dir / "node_modules" / "maildev" / "package.json"
    try:
        maildev_version = json.loads(maildev_pkg.read_text())["version"]
    except (OSError, ValueError, KeyError):
        maildev_version = "not installed"
    node = shutil.which("node")
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], repo_dir)
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": round(_mem_total_gib(), 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _run([node, "--version"]) if node else "not installed",
        "maildev": maildev_version,
        "aiosmtpd": _version("aiosmtpd"),
        "zstandard": _version("zstandard"),
        "mailcapture_commit": _run(["git", "rev-parse", "--short", "HEAD"], repo_dir)
        + ("+dirty" if dirty not in ("", "?") else ""),
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def checks(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, evaluated on figures from this run only.

    With several repeats, a ratio to MailDev is taken within each repeat and the median ratio is judged;
    rates and fetch times are medians over repeats, peak RSS the maximum, so one noisy repeat does not decide.
    """
    maildev_rate = {t.get("repeat", 0): (t.get("large") or {}).get("median_mb_s") or 0.0
                    for t in targets if t["kind"] == "maildev"}
    maildev_cpu = {t.get("repeat", 0): (t.get("large") or {}).get("target_cpu_s_per_message") or 0.0
                   for t in targets if t["kind"] == "maildev"}
    runs: dict[str, list[dict[str, Any]]] = {}
    for t in targets:
        if t["kind"] == "mailcapture":
            runs.setdefault(t["name"], []).append(t)
    out: list[dict[str, Any]] = []

    def add(target: str, what: str, value: str, goal: str, ok: bool | None) -> None:
        out.append({"target": target, "what": what, "value": value, "goal": goal, "ok": ok})

    for name, group in runs.items():
        level = group[0]["compression"]
        n = f" (median of {len(group)} repeats)" if len(group) > 1 else ""
        if level in RATIO_TARGETS:
            need = RATIO_TARGETS[level]
            pairs = [((t.get("large") or {}).get("median_mb_s") or 0.0, maildev_rate.get(t.get("repeat", 0), 0.0))
                     for t in group]
            pairs = [(ours, peer) for ours, peer in pairs if ours > 0 and peer > 0]
            if pairs:
                ratio = _median([ours / peer for ours, peer in pairs])
                add(name, f"large MB/s vs MailDev, same run{n}",
                    f"{ratio:.2f}x ({_median([p[0] for p in pairs]):.0f} / {_median([p[1] for p in pairs]):.0f})",
                    f">= {need:.0f}x", ratio >= need)
            else:
                add(name, "large MB/s vs MailDev", "n/a (MailDev not measured in this run)", f">= {need:.0f}x", None)
        peak = max(max((t.get("large") or {}).get("peak_rss", 0), (t.get("small") or {}).get("peak_rss", 0))
                   for t in group)
        if peak:
            add(name, "peak RSS (large and small runs, max)", f"{peak / MB:.0f} MB", "< 200 MB",
                peak < RSS_LIMIT_BYTES)
        smalls = [t["small"] for t in group if t.get("small")]
        if smalls:
            rate_s = _median([s.get("msgs_per_s", 0.0) for s in smalls])
            failed = sum(s.get("failed", 0) for s in smalls)
            add(name, f"small msgs/s, new connection each{n}", f"{rate_s:.0f}/s" + (f", {failed} failed" if failed
                else ""), f">= {SMALL_TARGET_PER_S:.0f}/s", rate_s >= SMALL_TARGET_PER_S and not failed)
        fetches = [t["fetch"] for t in group if t.get("fetch")]
        if fetches:
            errors = [f["error"] for f in fetches if f.get("error")]
            p50 = _median([f["p50_ms"] for f in fetches if not f.get("error")])
            value = f"{p50:.1f} ms" if not errors else f"{p50:.1f} ms; error: {errors[0]}"
            add(name, f"5th attachment fetch p50{n}", value, f"< {FETCH_P50_LIMIT_MS:.0f} ms",
                not errors and p50 < FETCH_P50_LIMIT_MS)
        cpu_pairs = [((t.get("large") or {}).get("target_cpu_s_per_message") or 0.0,
                      maildev_cpu.get(t.get("repeat", 0), 0.0)) for t in group]
        cpu_pairs = [(ours, peer) for ours, peer in cpu_pairs if ours > 0 and peer > 0]
        if cpu_pairs:
            add(name, f"target CPU per large message vs MailDev (info){n}",
                f"{_median([p[1] / p[0] for p in cpu_pairs]):.2f}x less ({_median([p[0] for p in cpu_pairs]):.2f} s"
                f" / {_median([p[1] for p in cpu_pairs]):.2f} s)", "(less load-sensitive than MB/s)", None)
        ratios = [t["disk_ratio"] for t in group if t.get("disk_ratio")]
        if level == 0 and ratios:
            add(name, "data dir size / raw bytes received (max)", f"{max(ratios):.3f}",
                f"<= {LEVEL0_SIZE_RATIO_LIMIT}", max(ratios) <= LEVEL0_SIZE_RATIO_LIMIT)
    return out


def _f(value: Any, fmt: str, missing: str = "-") -> str:
    return missing if value in (None, 0, 0.0, "") else format(value, fmt)


def render_markdown(result: dict[str, Any]) -> str:
    env, params = result["environment"], result["params"]
    lines = [
        "# SMTP ingest benchmark",
        "",
        f"Run {result['started_utc']} UTC, {result['duration_s']:.0f} s. Rerun: `{params['command']}`.",
        "",
        "## How it was measured",
        "",
        f"- Machine: {env['cpu']}, {env['cpus']} vCPU, {env['memory_gib']} GiB, Linux {env['kernel']}; "
        f"client and server share the machine (noisy: compare ratios taken in the same run).",
        f"- Versions: Python {env['python']}, aiosmtpd {env['aiosmtpd']}, zstandard {env['zstandard']}, "
        f"node {env['node']}, MailDev {env['maildev']}, mailcapture at {env['mailcapture_commit']}.",
        f"- Machine load from other work: load average {result.get('load_before', {}).get('loadavg')} before, "
        f"{result.get('load_after', {}).get('loadavg')} after; CPU pressure (PSI some avg60) "
        f"{(result.get('load_before', {}).get('cpu_pressure_some') or {}).get('avg60', '?')} % before, "
        f"{(result.get('load_after', {}).get('cpu_pressure_some') or {}).get('avg60', '?')} % after. "
        "The sink's figures in the same run show what the client and machine could do at the time.",
        "- Client (`bench/rawclient.py`): raw blocking socket, EHLO/MAIL/RCPT/DATA, message dot-stuffed once with "
        "`bytes.replace`, written in 1 MiB `sendall` chunks; time per message = MAIL FROM sent -> final 250.",
        f"- Large: {params['large_count']} messages of {params['large_size'] / MB:.1f} MB (text + HTML body, 5 base64 "
        f"attachments: CSV, PDF-like, 3 random blobs; different bytes per message), sequential over ONE connection. "
        "MB/s = 10^6 bytes/s: median of per-message rates, and total bytes / wall time.",
        f"- Small: {params['small_count']} messages of {params['small_size'] / 1000:.1f} kB, ONE NEW CONNECTION EACH "
        f"(connect, EHLO, MAIL, RCPT, DATA, QUIT), {params['small_concurrency']} client thread(s).",
        *(["- Interleaved (`--interleave`): all targets ran at once; each large message went to every target in "
            "turn (one connection per target, order rotated per round), small messages in blocks of 100 per target "
            "in turn, and the client waited before each turn until all targets were idle. MB/s totals are bytes / "
            "summed per-message times."] if params.get("interleave") else []),
        *([f"- Priority: client and targets ran at nice {params['nice']} (other work on the machine at 0)."]
          if params.get("nice") is not None else []),
        *([f"- Repeats: the whole target sequence ran {params['repeat']} times; the targets below are judged on "
            "medians over repeats (ratios to MailDev taken within each repeat), peak RSS on the maximum."]
          if params.get("repeat", 1) > 1 else []),
        "- Target CPU: user + system seconds of the target's process tree during the large run, per message "
        "(work deferred past the 250 reply shows here too); disk writes: bytes the tree caused to be written "
        "to storage (/proc/PID/io write_bytes) per message.",
        "- Peak RSS: sum over the target's process tree, sampled every 20 ms (psutil) during each run.",
        "- Data on disk: all files in the target's data directory 2 s after the large run (SQLite -wal included; every target gets the same settle time), "
        "and the ratio to the raw bytes received.",
        f"- Attachment fetch: the 5th attachment ({params['attachment_size'] / MB:.1f} MB decoded) of a large message,"
        f" {params['fetch_repeats']} keep-alive GETs, body checked against what was sent.",
        "- mailcapture: `mailcapture serve` with MAILCAPTURE_COMPRESSION=0|1|3, MAILCAPTURE_MAX_MESSAGES=0, "
        "MAILCAPTURE_PREVIEWER_URL empty, fresh data dir per level"
        + (", extra environment " + ", ".join(f"`{k}={v}`" for k, v in params["mailcapture_env"].items())
           if params.get("mailcapture_env") else "")
        + ". MailDev: `--mail-directory` on the same disk.",
        "",
        "## Results",
        "",
        "| target | large MB/s (median) | large MB/s (total) | target CPU s per large msg | "
        "target disk writes per large msg (MB) | peak RSS large (MB) | "
        "small msgs/s | peak RSS small (MB) | data on disk (MB, x raw) | attachment fetch p50 / p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    repeated = result["params"].get("repeat", 1) > 1
    for t in result["targets"]:
        large, small, fetch = t.get("large") or {}, t.get("small") or {}, t.get("fetch") or {}
        label = f"{t['name']} #{t.get('repeat', 0) + 1}" if repeated else t["name"]
        disk = "-"
        if t.get("disk_after_large"):
            disk = f"{t['disk_after_large'] / MB:.0f} ({t['disk_ratio']:.2f}x)"
        fetch_s = "-"
        if fetch.get("error"):
            fetch_s = "error"
        elif fetch.get("times_ms"):
            fetch_s = f"{fetch['p50_ms']:.1f} / {fetch['p99_ms']:.1f}"
        if t.get("error"):
            lines.append(f"| {label} | error: {t['error'][:120]} | | | | | | | | |")
            continue
        lines.append(
            f"| {label} | {_f(large.get('median_mb_s'), '.1f')} | {_f(large.get('total_mb_s'), '.1f')} | "
            f"{_f(large.get('target_cpu_s_per_message'), '.2f')} | "
            f"{_f(large.get('target_written_mb_per_message'), '.0f')} | "
            f"{_f(large.get('peak_rss', 0) / MB, '.0f')} | {_f(small.get('msgs_per_s'), '.0f')} | "
            f"{_f(small.get('peak_rss', 0) / MB, '.0f')} | {disk} | {fetch_s} |"
        )
    sink_rates = [(t.get("large") or {}).get("median_mb_s") or 0.0 for t in result["targets"] if t["kind"] == "sink"]
    other_rates = [(t.get("large") or {}).get("median_mb_s") or 0.0 for t in result["targets"]
                   if t["kind"] not in ("sink", "aiosmtpd")]
    if sink_rates and other_rates and max(other_rates) > 0:
        lines += ["", f"Client headroom: the same client reached {_median(sink_rates):.0f} MB/s against the sink "
                  f"(median over repeats), {_median(sink_rates) / max(other_rates):.1f}x the fastest storing target "
                  "in this run, so the client is not what limits the others."]
    multi = [(t["name"], (t.get("large") or {}).get("peak_rss_by_process") or {}) for t in result["targets"]]
    multi = [(name, procs) for name, procs in multi if len(procs) > 1]
    if multi:
        lines += ["", "Peak RSS of the large run by process: " + "; ".join(
            f"{name}: " + ", ".join(f"{proc} {rss / MB:.0f} MB" for proc, rss in procs.items())
            for name, procs in multi)]
    errors = [(t["name"], phase, (t.get(phase) or {}).get("error") or (t.get(phase) or {}).get("errors"))
              for t in result["targets"] for phase in ("large", "small", "fetch")]
    errors = [e for e in errors if e[2]]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {name} {phase}: {err}" for name, phase, err in errors]
    rows = result.get("checks") or []
    if rows:
        lines += ["", "## Targets (issue 2)", "", "| target | what | value | goal | met |", "|---|---|---|---|---|"]
        for c in rows:
            met = "-" if c["ok"] is None else ("yes" if c["ok"] else "**no**")
            lines.append(f"| {c['target']} | {c['what']} | {c['value']} | {c['goal']} | {met} |")
    return "\n".join(lines) + "\n"
