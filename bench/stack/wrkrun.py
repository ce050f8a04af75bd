"""Run wrk against one URL and return its exact counters.

wrk's text summary rounds (``2.50k``, ``1.23ms``); a ``done()`` hook in Lua prints the raw counters as one JSON
line instead. ``done()`` runs once after the test, so it costs nothing per request. Only with
``status_classes=True`` is a ``response()`` hook added, to split non-2xx/3xx answers into 4xx and 5xx; that hook
runs for every response (wrk then hands headers and body to Lua), so it is off unless asked for: when wrk's own
non-2xx/3xx count is 0, the 5xx count is 0 too.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk") or "/usr/bin/wrk"
MARKER = "WRKJSON "
EXTRA_TIMEOUT_S = 30  # wrk is killed if it overruns its own duration by this much

DONE_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  local c = {0, 0, 0, 0}
  if threads ~= nil then
    for _, t in ipairs(threads) do
      c[1] = c[1] + t:get("c2"); c[2] = c[2] + t:get("c3"); c[3] = c[3] + t:get("c4"); c[4] = c[4] + t:get("c5")
    end
  end
  io.write(string.format('WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_stdev_us":%.1f,"lat_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,' ..
    '"classes":%s,"c2":%d,"c3":%d,"c4":%d,"c5":%d}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    tostring(threads ~= nil), c[1], c[2], c[3], c[4]))
end
"""

CLASSES_LUA = r"""
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) c2 = 0; c3 = 0; c4 = 0; c5 = 0 end
function response(status, headers, body)
  if status >= 500 then c5 = c5 + 1
  elseif status >= 400 then c4 = c4 + 1
  elseif status >= 300 then c3 = c3 + 1
  else c2 = c2 + 1 end
end
"""


class WrkError(RuntimeError):
    """wrk failed or printed no result."""


@dataclass(frozen=True)
class WrkRun:
    url: str
    connections: int
    duration_s: int
    threads: int = 2
    timeout_s: int = 2
    status_classes: bool = False
    nice: int = 0

    def argv(self, script: Path) -> list[str]:
        prefix = ["nice", "-n", str(self.nice)] if self.nice else []
        return [*prefix, WRK, f"-t{self.threads}", f"-c{self.connections}", f"-d{self.duration_s}s",
                "--timeout", f"{self.timeout_s}s", "--latency", "-s", str(script), self.url]


def write_script(workdir: Path, status_classes: bool) -> Path:
    path = workdir / ("wrk-classes.lua" if status_classes else "wrk-done.lua")
    path.write_text((CLASSES_LUA if status_classes else "") + DONE_LUA)
    return path


def parse_output(text: str) -> dict[str, Any]:
    """The JSON line of the done() hook; raises WrkError when missing."""
    for line in text.splitlines():
        if line.startswith(MARKER):
            return dict(json.loads(line[len(MARKER):]))
    raise WrkError("wrk printed no result line:\n" + text[-2000:])


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """Derived figures: requests/s, latencies in ms, error totals."""
    seconds = raw["duration_us"] / 1e6
    socket_errors = {k: raw[k] for k in ("connect", "read", "write", "timeout")}
    out: dict[str, Any] = {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "rps": round(raw["requests"] / seconds, 1) if seconds > 0 else 0.0,
        "mb_per_s": round(raw["bytes"] / seconds / 1e6, 2) if seconds > 0 else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "p999_ms": round(raw["p999_us"] / 1000, 2),
        "max_ms": round(raw["lat_max_us"] / 1000, 2),
        "mean_ms": round(raw["lat_mean_us"] / 1000, 2),
        "non_2xx_3xx": raw["status"],
        "c5xx": raw["c5"] if raw["classes"] else None,
        "c4xx": raw["c4"] if raw["classes"] else None,
        "socket_errors": socket_errors,
        "socket_errors_total": sum(socket_errors.values()),
    }
    if not raw["classes"] and raw["status"] == 0:
        out["c5xx"] = 0  # no non-2xx/3xx answer at all, so no 5xx either
    return out


def run(spec: WrkRun, workdir: Path) -> dict[str, Any]:
    """Run wrk once; returns the summary, the raw counters, wrk's text output and its own CPU seconds."""
    script = write_script(workdir, spec.status_classes)
    argv = spec.argv(script)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=spec.duration_s + EXTRA_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk overran: {' '.join(argv)}") from exc
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr[-2000:]}")
    raw = parse_output(done.stdout)
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**summarize(raw), "wrk_cpu_s": round(wrk_cpu, 2), "raw": raw,
            "command": " ".join(argv), "text": [ln for ln in done.stdout.splitlines() if not ln.startswith(MARKER)]}
