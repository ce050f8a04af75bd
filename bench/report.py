"""Environment description, target checks and the Markdown rendering of a ``smtp_bench`` result."""

from __future__ import annotations

import json
import os
import platform
import shutil
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


def checks(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, evaluated on figures from this run only."""
    by_name = {t["name"]: t for t in targets}
    maildev = by_name.get("maildev", {}).get("large") or {}
    maildev_rate = maildev.get("median_mb_s") or 0.0
    out: list[dict[str, Any]] = []

    def add(target: str, what: str, value: str, goal: str, ok: bool | None) -> None:
        out.append({"target": target, "what": what, "value": value, "goal": goal, "ok": ok})

    for t in targets:
        if t["kind"] != "mailcapture":
            continue
        name, level = t["name"], t["compression"]
        large = t.get("large") or {}
        rate = large.get("median_mb_s") or 0.0
        if level in RATIO_TARGETS:
            need = RATIO_TARGETS[level]
            if maildev_rate > 0 and rate > 0:
                ratio = rate / maildev_rate
                add(name, "large MB/s vs MailDev (medians)", f"{ratio:.2f}x ({rate:.0f} / {maildev_rate:.0f})",
                    f">= {need:.0f}x", ratio >= need)
            else:
                add(name, "large MB/s vs MailDev", "n/a (MailDev not measured in this run)", f">= {need:.0f}x", None)
        peak = max((t.get("large") or {}).get("peak_rss", 0), (t.get("small") or {}).get("peak_rss", 0))
        if peak:
            add(name, "peak RSS (large and small runs)", f"{peak / MB:.0f} MB", "< 200 MB", peak < RSS_LIMIT_BYTES)
        small = t.get("small") or {}
        if small:
            rate_s = small.get("msgs_per_s", 0.0)
            add(name, "small msgs/s, new connection each", f"{rate_s:.0f}/s", f">= {SMALL_TARGET_PER_S:.0f}/s",
                rate_s >= SMALL_TARGET_PER_S and not small.get("failed"))
        fetch = t.get("fetch") or {}
        if fetch:
            ok = fetch.get("error") is None and fetch.get("p50_ms", 1e9) < FETCH_P50_LIMIT_MS
            add(name, "5th attachment fetch p50", f"{fetch.get('p50_ms', 0):.1f} ms" if not fetch.get("error")
                else f"error: {fetch['error']}", f"< {FETCH_P50_LIMIT_MS:.0f} ms", ok)
        if level == 0 and t.get("disk_ratio"):
            add(name, "data dir size / raw bytes received", f"{t['disk_ratio']:.3f}",
                f"<= {LEVEL0_SIZE_RATIO_LIMIT}", t["disk_ratio"] <= LEVEL0_SIZE_RATIO_LIMIT)
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
        "- Client (`bench/rawclient.py`): raw blocking socket, EHLO/MAIL/RCPT/DATA, message dot-stuffed once with "
        "`bytes.replace`, written in 1 MiB `sendall` chunks; time per message = MAIL FROM sent -> final 250.",
        f"- Large: {params['large_count']} messages of {params['large_size'] / MB:.1f} MB (text + HTML body, 5 base64 "
        f"attachments: CSV, PDF-like, 3 random blobs; different bytes per message), sequential over ONE connection. "
        "MB/s = 10^6 bytes/s: median of per-message rates, and total bytes / wall time.",
        f"- Small: {params['small_count']} messages of {params['small_size'] / 1000:.1f} kB, ONE NEW CONNECTION EACH "
        f"(connect, EHLO, MAIL, RCPT, DATA, QUIT), {params['small_concurrency']} client thread(s).",
        "- Peak RSS: sum over the target's process tree, sampled every 20 ms (psutil) during each run.",
        "- Data on disk: all files in the target's data directory after the large run (SQLite -wal included), "
        "and the ratio to the raw bytes received.",
        f"- Attachment fetch: the 5th attachment ({params['attachment_size'] / MB:.1f} MB decoded) of a large message,"
        f" {params['fetch_repeats']} keep-alive GETs, body checked against what was sent.",
        "- mailcapture: `mailcapture serve` with MAILCAPTURE_COMPRESSION=0|1|3, MAILCAPTURE_MAX_MESSAGES=0, "
        "MAILCAPTURE_PREVIEWER_URL empty, fresh data dir per level. MailDev: `--mail-directory` on the same disk.",
        "",
        "## Results",
        "",
        "| target | large MB/s (median) | large MB/s (total) | peak RSS large (MB) | small msgs/s | "
        "peak RSS small (MB) | data on disk (MB, x raw) | attachment fetch p50 / p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in result["targets"]:
        large, small, fetch = t.get("large") or {}, t.get("small") or {}, t.get("fetch") or {}
        disk = "-"
        if t.get("disk_after_large"):
            disk = f"{t['disk_after_large'] / MB:.0f} ({t['disk_ratio']:.2f}x)"
        fetch_s = "-"
        if fetch.get("error"):
            fetch_s = "error"
        elif fetch.get("times_ms"):
            fetch_s = f"{fetch['p50_ms']:.1f} / {fetch['p99_ms']:.1f}"
        if t.get("error"):
            lines.append(f"| {t['name']} | error: {t['error'][:120]} | | | | | | |")
            continue
        lines.append(
            f"| {t['name']} | {_f(large.get('median_mb_s'), '.1f')} | {_f(large.get('total_mb_s'), '.1f')} | "
            f"{_f(large.get('peak_rss', 0) / MB, '.0f')} | {_f(small.get('msgs_per_s'), '.0f')} | "
            f"{_f(small.get('peak_rss', 0) / MB, '.0f')} | {disk} | {fetch_s} |"
        )
    errors = [(t["name"], phase, (t.get(phase) or {}).get("error") or (t.get(phase) or {}).get("errors"))
              for t in result["targets"] for phase in ("large", "small", "fetch")]
    errors = [e for e in errors if e[2]]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {name} {phase}: {err}" for name, phase, err in errors]
    rows = result.get("checks") or []
    if rows:
        lines += ["", "## Targets (issue 2)", "", "| target | what | value | goal | met |", "|---|---|---|---|---|"]
        for c in rows:
            met = "n/a" if c["ok"] is None else ("yes" if c["ok"] else "**no**")
            lines.append(f"| {c['target']} | {c['what']} | {c['value']} | {c['goal']} | {met} |")
    return "\n".join(lines) + "\n"
