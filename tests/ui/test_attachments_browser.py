"""A mail with a JPEG, a PNG, a PDF and an MP4 arrives while the inbox is open; its attachment grid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ui.mails import MEDIA, inline_image_mail, media_mail, send, simple_mail
from tests.ui.pages import open_inbox, open_message, row, same_document
from tests.ui.servers import Stack

pytestmark = pytest.mark.browser

SUBJECT = "Holiday photos, report and a clip"
BACKGROUND = (
    simple_mail("Password reset requested", "Security <security@acme.test>", "jane@example.com",
                "Someone asked to reset your password. If it was you, use the code 834112.", tags="security"),
    simple_mail("Your invoice #1043", "Billing <billing@shop.test>", "dev@example.com",
                "Invoice total: 42.00 EUR. Thank you for your order.", tags="billing"),
    simple_mail("Welcome to Acme — confirm your address", "Acme Accounts <no-reply@acme.test>",
                "new.user@example.com", "Please confirm your address by clicking the link below.", tags="signup"),
    simple_mail("Build #2291 passed", "CI <ci@builds.test>", "team@example.com",
                "All 1,204 tests passed in 3m12s on main."),
)
THUMBS_TIMEOUT_MS = 30_000


def _tiles(page: Any) -> Any:
    return page.locator(".attachment-grid .attachment")


def _check_grid(page: Any) -> None:
    tiles = _tiles(page)
    assert tiles.count() == len(MEDIA)
    names = tiles.locator(".attachment-name").all_text_contents()
    assert names == list(MEDIA)
    types = tiles.locator(".attachment-type").all_text_contents()
    assert types == [f"{major}/{minor}" for major, minor, _ in MEDIA.values()]
    for size in tiles.locator(".attachment-meta > :last-child").all_text_contents():
        assert size.endswith(("B", "KB", "MB")), size


def _click_tile_opens_part(page: Any, stack: Stack, name: str, content_type: str) -> None:
    tile = _tiles(page).filter(has_text=name).locator(".attachment-open")
    href = tile.get_attribute("href")
    assert href is not None and "/part/" in href
    with page.context.expect_page() as popup_info:
        tile.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == stack.base + href
    status, headers, body = stack.capture.request("GET", href)
    assert status == 200 and headers["Content-Type"].startswith(content_type) and len(body) > 0
    popup.close()


@pytest.mark.slow
def test_media_mail_appears_live_and_thumbnails_load(
    stack_factory: Callable[..., Stack], new_page: Callable[..., Any], artifacts: Path,
) -> None:
    stack = stack_factory(with_previewer=True)
    page = new_page()
    open_inbox(page, stack)
    assert page.locator("#message-list .msg").count() == 0

    send(stack.smtp_port, *BACKGROUND)
    send(stack.smtp_port, media_mail(SUBJECT))
    row(page, SUBJECT).wait_for()
    assert same_document(page), "the inbox reloaded instead of updating live"
    unread = len(BACKGROUND) + 1
    page.wait_for_function("n => document.title.startsWith(`(${n}) `)", arg=unread)
    first = row(page, SUBJECT)
    assert "unread" in (first.get_attribute("class") or "")
    assert first.locator(".msg-attachments").inner_text().strip() == "4"
    assert first.locator("time").get_attribute("title")  # the exact time on hover
    page.screenshot(path=str(artifacts / "inbox.png"))

    open_message(page, SUBJECT)
    _check_grid(page)
    # every thumbnail comes from the previewer and really decodes
    page.wait_for_function(
        """n => {
            const imgs = [...document.querySelectorAll('.attachment-grid img.thumb-img')];
            return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0);
        }""", arg=len(MEDIA), timeout=THUMBS_TIMEOUT_MS)
    srcs = page.locator(".attachment-grid img.thumb-img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
    assert all(src.startswith("/preview/") and src.endswith("?size=256") for src in srcs)
    assert page.locator(".attachment-grid img.thumb-img").evaluate_all("imgs => imgs.every(i => i.loading === 'lazy')")
    page.wait_for_function("n => document.title.startsWith(`(${n}) `)", arg=unread - 1)
    page.screenshot(path=str(artifacts / "message-attachments.png"))
    _click_tile_opens_part(page, stack, "photo.jpg", "image/jpeg")
    _click_tile_opens_part(page, stack, "report.pdf", "application/pdf")


def test_placeholders_when_previewer_is_down(stack: Stack, new_page: Callable[..., Any]) -> None:
    page = new_page()
    open_inbox(page, stack)
    msg = media_mail(SUBJECT)
    msg.add_attachment(b"PK\x05\x06" + bytes(18), maintype="application", subtype="zip", filename="bundle.zip")
    send(stack.smtp_port, msg)
    open_message(page, SUBJECT)
    tiles = _tiles(page)
    assert tiles.count() == len(MEDIA) + 1
    # no previewer behind /preview/: every previewable tile falls back to a labelled placeholder
    page.wait_for_function("() => document.querySelectorAll('.thumb-placeholder[data-reason=failed]').length === 4")
    assert tiles.filter(has_text="bundle.zip").locator(".thumb-placeholder[data-reason=none]").count() == 1
    badges = tiles.locator(".thumb-badge").all_text_contents()
    assert badges == ["JPG", "PNG", "PDF", "MP4", "ZIP"]
    _click_tile_opens_part(page, stack, "diagram.png", "image/png")


def test_inline_cid_image_is_shown_inside_the_html(stack: Stack, new_page: Callable[..., Any]) -> None:
    page = new_page()
    open_inbox(page, stack)
    send(stack.smtp_port, inline_image_mail("Inline logo"))
    open_message(page, "Inline logo")
    frame = page.frame_locator("iframe.html-frame")
    logo = frame.locator("img#logo")
    logo.wait_for()
    src = logo.get_attribute("src") or ""
    assert "/api/v1/message/" in src and "/part/" in src
    page.wait_for_function("""() => {
        const f = document.querySelector('iframe.html-frame');
        return f && f.contentDocument === null;  // opaque origin: the inbox cannot reach in
    }""")
    natural = logo.evaluate("img => img.complete ? img.naturalWidth : -1")
    assert natural == 640
    # the inline part is shown in the HTML, so it is not repeated in the attachment grid
    assert _tiles(page).count() == 0, _tiles(page).all_inner_texts()
