"""The benchmark script runs end to end (reduced sizes; no timing assertions: figures are reported
by ``python -m tests.smtp.bench_smtp``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_benchmark_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tests.smtp.bench_smtp", "--large-size", "3000000", "--repeat", "2", "--small", "20"],
        cwd=ROOT, capture_output=True, check=True, timeout=120,
    ).stdout
    result = json.loads(out)
    assert result["large"]["repeat"] == 2 and result["large"]["bytes"] > 3_000_000
    assert result["small"]["messages"] == 20
    assert result["large"]["best_mb_per_s"] > 0 and result["small"]["messages_per_s"] > 0


SERVER_RSS_BOUND_MB = 90  # interpreter + aiosmtpd ~25 MB + the message once (~63 MB measured); a copy more is ~100


@pytest.mark.slow
def test_receiving_a_37_5_mb_message_keeps_the_server_small() -> None:
    """Peak RSS of a server process that received one 37.5 MB message: no extra full copies."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.smtp.bench_smtp", "--repeat", "1", "--small", "0"],
        cwd=ROOT, capture_output=True, check=True, timeout=120,
    ).stdout
    result = json.loads(out)
    assert result["large"]["bytes"] > 37_000_000
    assert result["server_peak_rss_mb"] < SERVER_RSS_BOUND_MB
