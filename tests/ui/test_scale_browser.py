"""Paging stays fast with 10,000 messages; the page keeps only one page of rows in the DOM."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mailcapture.ingest import prepare
from mailcapture.service import open_store
from mailcapture.settings import load_settings
from tests.ui.pages import open_inbox, subjects
from tests.ui.servers import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MESSAGES = 10_000
PAGE = 50
# generous bounds for a noisy 2-vCPU machine; the measured numbers are printed
FIRST_PAGE_MAX_S = 3.0
PAGE_TURN_MAX_S = 1.5


def _raw(i: int) -> bytes:
    return (f"From: Sender {i} <sender{i}@example.com>\r\nTo: dev@example.com\r\n"
            f"Subject: Message number {i:05d}\r\nX-Tags: batch{i % 3}\r\n\r\nBody of message {i}.\r\n").encode()


async def _seed(data_dir: Path, count: int) -> None:
    store = open_store(load_settings(env={"MAILCAPTURE_DATA_DIR": str(data_dir)}))
    await store.open()
    try:
        start = datetime.now(timezone.utc) - timedelta(seconds=count)
        for i in range(count):
            await store.add(prepare(_raw(i), "sender@example.com", ["dev@example.com"], "",
                                    now=start + timedelta(seconds=i)))
    finally:
        await store.close()


def _timed(page: Any, action: Callable[[], None], first_subject: str) -> float:
    began = time.perf_counter()
    action()
    page.wait_for_function("s => document.querySelector('#message-list .subject-text')?.textContent === s",
                           arg=first_subject)
    return time.perf_counter() - began


def test_paging_through_ten_thousand_messages(
    tmp_path: Path, stack_factory: Callable[..., Stack], new_page: Callable[..., Any],
) -> None:
    data = tmp_path / "data"
    # Playwright's sync API owns this thread's event loop: seed from another thread
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _seed(data, MESSAGES)).result()
    stack = stack_factory(data_dir=data, MAILCAPTURE_MAX_MESSAGES="0")
    page = new_page()

    began = time.perf_counter()
    open_inbox(page, stack)
    page.wait_for_selector("#message-list .msg")
    first_page = time.perf_counter() - began
    assert subjects(page)[0] == f"Message number {MESSAGES - 1:05d}"
    assert page.locator("#pager-text").inner_text() == f"1–{PAGE} of {MESSAGES:,}"

    next_page = _timed(page, lambda: page.locator("#btn-next").click(), f"Message number {MESSAGES - 1 - PAGE:05d}")
    last = MESSAGES - PAGE
    last_page = _timed(page, lambda: page.goto(f"{stack.base}/#/?start={last}"), f"Message number {PAGE - 1:05d}")
    assert page.locator("#pager-text").inner_text() == f"{last + 1:,}–{MESSAGES:,} of {MESSAGES:,}"
    assert page.locator("#btn-next").is_disabled()
    search = _timed(page, lambda: (page.fill("#search", "subject:00042"), page.keyboard.press("Enter")),
                    "Message number 00042")
    page.wait_for_function("() => document.querySelectorAll('#message-list .msg').length === 1")
    assert page.locator("#message-list .msg").count() == 1

    print(f"\n10,000 messages: first page {first_page * 1000:.0f} ms, next page {next_page * 1000:.0f} ms, "
          f"last page {last_page * 1000:.0f} ms, search {search * 1000:.0f} ms")
    assert first_page < FIRST_PAGE_MAX_S
    assert max(next_page, last_page, search) < PAGE_TURN_MAX_S
