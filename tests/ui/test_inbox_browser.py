"""The live list: search, tags, selection, delete, read state, keyboard and reconnecting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ui.mails import send, simple_mail
from tests.ui.pages import LIVE, open_inbox, open_message, row, same_document, subjects
from tests.ui.servers import Stack, start_capture

pytestmark = pytest.mark.browser

INVOICE = "Your invoice #1043"
WELCOME = "Welcome to Acme"
RESET = "Password reset requested"


def _three(stack: Stack) -> None:
    send(stack.smtp_port,
         simple_mail(INVOICE, "Billing <billing@shop.test>", "dev@example.com", "Total 42.00 EUR", tags="billing"),
         simple_mail(WELCOME, "Acme <no-reply@acme.test>", "new.user@example.com", "Confirm your address"),
         simple_mail(RESET, "Security <security@acme.test>", "jane@example.com", "Use the code 834112."))


def _api_subjects(stack: Stack, query: str = "") -> list[str]:
    path = f"/api/v1/search?query={query}" if query else "/api/v1/messages"
    return [m["Subject"] for m in stack.capture.json("GET", path)["messages"]]


def _wait_rows(page: Any, n: int) -> None:
    page.wait_for_function("n => document.querySelectorAll('#message-list .msg').length === n", arg=n)


def test_search_tags_and_delete_through_the_ui(stack: Stack, new_page: Callable[..., Any]) -> None:
    _three(stack)
    page = new_page()
    open_inbox(page, stack)
    assert subjects(page) == [RESET, WELCOME, INVOICE]  # newest first

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("subject:invoice")
    page.keyboard.press("Enter")
    _wait_rows(page, 1)
    assert subjects(page) == _api_subjects(stack, "subject:invoice") == [INVOICE]
    assert "q=subject%3Ainvoice" in page.url
    page.keyboard.press("Escape")
    _wait_rows(page, 3)

    page.locator("#sidebar").get_by_role("button", name="billing").click()
    _wait_rows(page, 1)
    assert subjects(page) == [INVOICE]
    page.locator("#nav-all").click()
    _wait_rows(page, 3)

    # one, by its checkbox
    row(page, WELCOME).locator(".msg-check").check()
    page.locator("#btn-delete").click()
    _wait_rows(page, 2)
    assert _api_subjects(stack) == [RESET, INVOICE]

    # one, by the keyboard: move down to the invoice and press Delete
    page.locator("#message-list .msg-link").first.focus()
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.closest('.msg').textContent").find(INVOICE) >= 0
    page.keyboard.press("Delete")
    _wait_rows(page, 1)
    assert _api_subjects(stack) == [RESET]

    # all, after confirming
    send(stack.smtp_port, simple_mail("Another one"))
    _wait_rows(page, 2)
    page.locator("#btn-delete-all").click()
    page.locator("#confirm-ok").click()
    _wait_rows(page, 0)
    assert stack.capture.json("GET", "/api/v1/messages")["total"] == 0
    assert page.locator("#list-empty").is_visible()
    assert same_document(page)


def test_select_many_and_mark_read_unread(stack: Stack, new_page: Callable[..., Any]) -> None:
    _three(stack)
    page = new_page()
    open_inbox(page, stack)
    assert page.title().startswith("(3) ")

    row(page, RESET).locator(".msg-check").check()
    row(page, INVOICE).locator(".msg-check").check()
    assert page.locator("#selection-count").inner_text() == "2 selected"
    page.locator("#btn-read").click()
    page.wait_for_function("() => document.title.startsWith('(1) ')")
    read = {m["Subject"]: m["Read"] for m in stack.capture.json("GET", "/api/v1/messages")["messages"]}
    assert read == {RESET: True, WELCOME: False, INVOICE: True}
    assert page.locator("#message-list .msg.unread").count() == 1

    page.locator("#select-all").check()
    page.locator("#btn-unread").click()
    page.wait_for_function("() => document.title.startsWith('(3) ')")
    assert stack.capture.json("GET", "/api/v1/messages")["unread"] == 3

    # many at once: two selected, deleted together after confirming
    page.locator("#select-all").uncheck()
    row(page, WELCOME).locator(".msg-check").check()
    row(page, INVOICE).locator(".msg-check").check()
    page.locator("#btn-delete").click()
    page.locator("#confirm-ok").click()
    _wait_rows(page, 1)
    assert _api_subjects(stack) == [RESET]


def test_keyboard_open_and_back_marks_read(stack: Stack, new_page: Callable[..., Any]) -> None:
    _three(stack)
    page = new_page()
    open_inbox(page, stack)
    page.keyboard.press("j")  # from nowhere: the cursor row gets focus and moves
    page.keyboard.press("k")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#msg-subject:text-is('{WELCOME}')")
    assert stack.capture.json("GET", "/api/v1/search?query=is:read")["messages_count"] == 1
    page.wait_for_function("() => document.title.startsWith('(2) ')")
    assert page.locator(".hdr-grid").inner_text().startswith("From")

    page.get_by_role("button", name="Show all headers").click()
    page.locator(".header-table th", has_text="Subject").wait_for()
    page.get_by_role("tab", name="Text").click()
    assert "Confirm your address" in page.locator(".text-body").inner_text()

    with page.expect_download() as download_info:
        page.locator("a", has_text=".eml").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".eml")
    msg_id = page.url.rsplit("/", 1)[1]
    _, _, raw = stack.capture.request("GET", f"/api/v1/message/{msg_id}/raw")
    assert Path(download.path()).read_bytes() == raw

    page.keyboard.press("Escape")
    page.wait_for_selector("#inbox-view:not([hidden])")
    assert "unread" not in (row(page, WELCOME).get_attribute("class") or "")
    assert page.evaluate("document.activeElement.closest('.msg')?.textContent || ''").find(WELCOME) >= 0
    assert same_document(page)


def test_changes_made_elsewhere_show_at_once(stack: Stack, new_page: Callable[..., Any]) -> None:
    _three(stack)
    page = new_page()
    open_inbox(page, stack)
    by_subject = {m["Subject"]: m["ID"] for m in stack.capture.json("GET", "/api/v1/messages")["messages"]}

    status, _, _ = stack.capture.request("PUT", "/api/v1/messages", {"IDs": [by_subject[RESET]], "Read": True})
    assert status == 200
    page.wait_for_function("() => document.querySelectorAll('#message-list .msg.unread').length === 2")
    page.wait_for_function("() => document.title.startsWith('(2) ')")

    status, _, _ = stack.capture.request("DELETE", "/api/v1/messages", {"IDs": [by_subject[WELCOME]]})
    assert status == 200
    _wait_rows(page, 2)
    assert subjects(page) == [RESET, INVOICE]

    open_message(page, INVOICE)
    stack.capture.request("DELETE", "/api/v1/messages", {"IDs": [by_subject[INVOICE]]})
    page.locator(".notice.error", has_text="deleted").wait_for()
    assert same_document(page)


@pytest.mark.slow
def test_reconnects_after_the_service_restarts(stack: Stack, new_page: Callable[..., Any]) -> None:
    page = new_page()
    open_inbox(page, stack)
    port, data_dir = stack.capture.http_port, stack.capture.data_dir
    stack.capture.kill9()  # a crash; a clean stop is covered by the service's own tests
    page.wait_for_selector("#conn-status[data-status=offline]")
    assert page.locator("#conn-status").inner_text() == "Reconnecting…"

    stack.capture = start_capture(data_dir, MAILCAPTURE_HTTP_ADDR=f"127.0.0.1:{port}")
    page.wait_for_selector(LIVE, timeout=20_000)
    send(stack.smtp_port, simple_mail("After the restart"))
    row(page, "After the restart").wait_for()
    assert same_document(page)


def test_source_of_a_big_mail_is_cut_with_a_download_link(stack: Stack, new_page: Callable[..., Any]) -> None:
    big = simple_mail("Big log file", body="see the attachment")
    big.add_attachment(b"0123456789abcde\n" * (3 * 1024 * 1024 // 16), maintype="text", subtype="plain",
                       filename="build.log")
    send(stack.smtp_port, big)
    page = new_page()
    open_inbox(page, stack)
    open_message(page, "Big log file")
    page.get_by_role("tab", name="Source").click()
    notice = page.locator("#panel-source .notice")
    notice.wait_for()
    assert notice.inner_text().startswith("Showing the first 2.0 MB")
    assert notice.locator("a").get_attribute("href").endswith("/raw?dl=1")
    shown = page.evaluate("() => document.querySelector('#panel-source pre').textContent.length")
    assert shown == 2 * 1024 * 1024  # ASCII: one character per byte
