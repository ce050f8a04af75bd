"""A hostile HTML mail runs nothing in the inbox's origin and fetches nothing until asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ui.mails import hostile_mail, send
from tests.ui.pages import open_inbox, open_message
from tests.ui.servers import Collector, Stack

pytestmark = pytest.mark.browser

SUBJECT = "Totally harmless newsletter"
SETTLE_MS = 500
FLAG = "() => [window.pwned, window.top.pwned, document.documentElement.dataset.pwned]"


@pytest.mark.slow
def test_hostile_html_runs_nothing(
    stack: Stack, collector: Collector, new_page: Callable[..., Any], artifacts: Path,
) -> None:
    page = new_page()
    open_inbox(page, stack)
    send(stack.smtp_port, hostile_mail(collector.url, SUBJECT))
    open_message(page, SUBJECT)

    iframe = page.locator("iframe.html-frame")
    sandbox = set((iframe.get_attribute("sandbox") or "").split())
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox and "allow-forms" not in sandbox
    frame = page.frame_locator("iframe.html-frame")
    frame.locator("#hello").wait_for()
    # the frame's document is in an opaque origin: the inbox cannot reach into it, nor it out
    assert page.evaluate("() => document.querySelector('iframe.html-frame').contentDocument") is None

    # try everything a reader might do: click the javascript: link, submit the form
    frame.locator("#jslink").click()
    frame.locator("#send").click()
    page.wait_for_timeout(SETTLE_MS)
    assert page.evaluate(FLAG) == [None, None, None]
    assert page.url.startswith(stack.base)  # the inbox was not navigated away
    assert not collector.hits, f"the mail fetched {dict(collector.hits)} without being asked"
    assert page.locator(".remote-banner button").is_visible()
    page.screenshot(path=str(artifacts / "message-hostile.png"))

    # remote images only after the reader asks; scripts, frames and forms still never
    page.locator(".remote-banner button", has_text="Load remote images").click()
    frame.locator("#hello").wait_for()
    page.wait_for_function("() => document.querySelector('.remote-banner.loaded') !== null")
    page.wait_for_timeout(SETTLE_MS)
    assert collector.hits["/track.png"] >= 1, dict(collector.hits)
    assert not {"/evil.js", "/frame.html", "/collect", "/refresh"} & set(collector.hits), dict(collector.hits)
    assert page.evaluate(FLAG) == [None, None, None]

    # the source and text views show the markup as text, never as markup
    page.get_by_role("tab", name="Source").click()
    source = page.locator(".raw-source")
    source.wait_for()
    assert "<script>window.top.pwned" in source.inner_text()
    assert page.locator(".raw-source script").count() == 0
    assert page.evaluate("() => [...document.querySelector('#panel-source').childNodes].map(n => n.nodeName)") == ["PRE"]
    assert page.evaluate(FLAG) == [None, None, None]
