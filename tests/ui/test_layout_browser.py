"""Phone width, accessible names, focus order and contrast; screenshots for review."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ui.mails import media_mail, send, simple_mail
from tests.ui.pages import open_inbox, open_message
from tests.ui.servers import Stack

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
AA_NORMAL_TEXT = 4.5

# Every visible control must have a name a screen reader can announce.
UNNAMED = """() => [...document.querySelectorAll('button, a[href], input, select, textarea, [role=tab], iframe')]
  .filter(el => el.offsetParent !== null || el.getClientRects().length)
  .filter(el => {
    const label = el.getAttribute('aria-label') || el.getAttribute('title') || el.textContent.trim()
      || (el.labels && [...el.labels].map(l => l.textContent.trim()).join(''))
      || (el.getAttribute('aria-labelledby') && document.getElementById(el.getAttribute('aria-labelledby'))?.textContent.trim());
    return !label;
  }).map(el => el.outerHTML.slice(0, 120))"""

# WCAG contrast of an element's text against the nearest opaque background.
CONTRAST = """sel => {
  const lum = c => { const [r, g, b] = c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const el = document.querySelector(sel);
  let bg = null;
  for (let n = el; n && !bg; n = n.parentElement) {
    const c = getComputedStyle(n).backgroundColor;
    if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') bg = c;
  }
  const [a, b] = [lum(getComputedStyle(el).color), lum(bg || 'rgb(255, 255, 255)')].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def _no_horizontal_scroll(page: Any) -> None:
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def test_phone_width(stack: Stack, new_page: Callable[..., Any], artifacts: Path) -> None:
    send(stack.smtp_port, simple_mail("A fairly long subject line that must not push the layout sideways",
                                      "Someone With A Long Name <someone.with.a.long.name@example.com>",
                                      tags="phone"),
         media_mail("Photos for the phone"))
    page = new_page(PHONE)
    open_inbox(page, stack)
    page.wait_for_selector("#message-list .msg")
    _no_horizontal_scroll(page)
    assert not page.locator("#sidebar").is_visible()  # a drawer: out of sight and out of the tab order
    page.locator("#nav-toggle").click()
    assert page.locator("#nav-toggle").get_attribute("aria-expanded") == "true"
    page.locator("#sidebar").get_by_role("button", name="phone").click()
    page.wait_for_function("() => document.querySelectorAll('#message-list .msg').length === 1")
    page.locator("#nav-toggle").click()
    page.locator("#nav-all").click()
    page.wait_for_function("() => document.querySelectorAll('#message-list .msg').length === 2")
    page.locator("#sidebar").wait_for(state="hidden")
    assert page.locator("#nav-toggle").get_attribute("aria-expanded") == "false"
    page.screenshot(path=str(artifacts / "inbox-phone.png"))

    open_message(page, "Photos for the phone")
    _no_horizontal_scroll(page)
    assert page.locator(".attachment-grid .attachment").count() == 4
    page.screenshot(path=str(artifacts / "message-phone.png"))


def test_names_focus_order_and_contrast(stack: Stack, new_page: Callable[..., Any]) -> None:
    send(stack.smtp_port, media_mail("Accessible"))
    page = new_page()
    open_inbox(page, stack)
    page.wait_for_selector("#message-list .msg")
    assert page.evaluate(UNNAMED) == []
    assert page.evaluate("document.documentElement.lang") == "en"

    # Tab order: skip link, brand, search, then on to the list controls
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert order[:3] == ["skip-link", "brand", "search"], order

    for selector in (".msg-snippet", ".msg-to", ".pager-text", ".msg-time", ".nav-heading", ".tag", "#btn-delete-all"):
        ratio = page.evaluate(CONTRAST, selector)
        assert ratio >= AA_NORMAL_TEXT, f"{selector}: contrast {ratio:.2f}"

    open_message(page, "Accessible")
    assert page.evaluate(UNNAMED) == []
    for selector in (".hdr-grid dt", ".attachment-type", "[role=tab][aria-selected=false]"):
        ratio = page.evaluate(CONTRAST, selector)
        assert ratio >= AA_NORMAL_TEXT, f"{selector}: contrast {ratio:.2f}"
