from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import CaptureProcess


@pytest.fixture
def capture_factory(tmp_path: Path) -> Iterator[Callable[..., CaptureProcess]]:
    """Start real ``mailcapture serve`` processes; all are stopped at the end of the test."""
    started: list[CaptureProcess] = []

    def start(data_dir: Path | None = None, **env: str) -> CaptureProcess:
        proc = CaptureProcess(data_dir or tmp_path / "data", {k.upper(): str(v) for k, v in env.items()})
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def capture(capture_factory: Callable[..., CaptureProcess]) -> CaptureProcess:
    return capture_factory()
