"""Browser fixtures: Debian's Chromium driven by Playwright (its own browser download is not used)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT
from tests.ui.servers import Collector, Stack, free_port, start_capture

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1400, "height": 900}
ARTIFACTS = ROOT / "test-artifacts"
UI_TIMEOUT_MS = 10_000


def _skip_reason() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (pip install playwright)"
    return None


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is open,
# which would break every asyncio test collected after the UI tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class PageErrors(list[str]):
    """Uncaught exceptions of the inbox's own scripts (any is a test failure)."""


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """new_page(viewport=...) -> a Page in a fresh context; fails the test on uncaught JS errors."""
    contexts: list[Any] = []
    errors = PageErrors()

    def make(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the inbox: {errors}"


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start the capture service serving the inbox (optionally with a real previewer behind /preview/)."""
    stacks: list[Stack] = []

    def start(with_previewer: bool = False, data_dir: Path | None = None, **env: str) -> Stack:
        data = data_dir or tmp_path / f"data{len(stacks)}"
        if not with_previewer:
            stack = Stack(start_capture(data, **env))
            stacks.append(stack)
            return stack
        from tests.previewer.conftest import PreviewerProcess

        port = free_port()
        capture = start_capture(data, MAILCAPTURE_PREVIEWER_URL=f"http://127.0.0.1:{port}", **env)
        stack = Stack(capture)
        stacks.append(stack)
        stack.previewer = PreviewerProcess(capture.base, tmp_path / f"previewer{len(stacks)}",
                                           PREVIEWER_HTTP_ADDR=f"127.0.0.1:{port}").start()
        return stack

    yield start
    for stack in stacks:
        if stack.previewer is not None:
            stack.previewer.stop()  # type: ignore[attr-defined]
        stack.capture.stop()


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    return stack_factory()


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector().start()
    yield server
    server.stop()

