"""Small helpers that drive the inbox page the way a person does."""

from __future__ import annotations

from typing import Any

from tests.ui.servers import Stack

LIVE = "#conn-status[data-status=live]"


def open_inbox(page: Any, stack: Stack, hash_: str = "") -> None:
    page.goto(f"{stack.base}/{hash_}")
    page.wait_for_selector(LIVE)
    page.wait_for_selector("#message-list:not([aria-busy])", state="attached")
    # set on this document only: a reload would lose it
    page.evaluate("window.__sameDocument = true")


def same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def row(page: Any, subject: str) -> Any:
    return page.locator("#message-list .msg", has_text=subject)


def subjects(page: Any) -> list[str]:
    return list(page.locator("#message-list .subject-text").all_text_contents())


def open_message(page: Any, subject: str) -> None:
    row(page, subject).locator(".msg-link").click()
    page.wait_for_selector(f"#msg-subject:text-is('{subject}')")
