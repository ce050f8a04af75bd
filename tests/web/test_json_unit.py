"""Pure serialisation: storage records -> Mailpit's JSON shapes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mailcapture.mime.model import KIND_ATTACHMENT, KIND_HTML, KIND_INLINE, KIND_TEXT, Address
from mailcapture.storage.base import MessageDetail, MessageSummary, Page, PartRecord
from mailcapture.web import json as mj

CREATED = datetime(2026, 11, 22, 10, 11, 12, 345678, tzinfo=timezone.utc)


def _summary(**changes: object) -> MessageSummary:
    values: dict[str, object] = dict(
        id="abc", message_id="m@x", read=False, from_=Address("Alice", "alice@example.com"),
        to=[Address("", "bob@example.com")], cc=[], bcc=[Address("", "hidden@example.com")], reply_to=[],
        subject="Hi", created=CREATED, username="user", tags=["a", "B"], size=1234, attachments=2,
        snippet="x" * 400,
    )
    values.update(changes)
    return MessageSummary(**values)  # type: ignore[arg-type]


def _part(part_id: str, kind: str, **changes: object) -> PartRecord:
    values: dict[str, object] = dict(
        part_id=part_id, kind=kind, content_type="image/png", charset="", filename="", content_id="",
        disposition="", size=10, md5="m" * 32, sha1="s" * 40, sha256="f" * 64,
    )
    values.update(changes)
    return PartRecord(**values)  # type: ignore[arg-type]


def test_rfc3339_has_a_fraction_and_z_for_utc() -> None:
    assert mj.rfc3339(CREATED) == "2026-11-22T10:11:12.345Z"
    plus13 = CREATED.astimezone(timezone(timedelta(hours=13)))
    assert mj.rfc3339(plus13) == "2026-11-22T23:11:12.345+13:00"
    assert mj.rfc3339(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000Z"  # naive taken as UTC


def test_summary_has_exactly_mailpit_fields() -> None:
    data = mj.summary(_summary())
    assert list(data) == ["ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject",
                          "Created", "Username", "Tags", "Size", "Attachments", "Snippet"]
    assert data["From"] == {"Name": "Alice", "Address": "alice@example.com"}
    assert data["To"] == [{"Name": "", "Address": "bob@example.com"}]
    assert data["Created"] == "2026-11-22T10:11:12.345Z"
    assert len(data["Snippet"]) == 250
    assert mj.summary(_summary(from_=None))["From"] is None


def test_page_counts() -> None:
    page = Page(messages=[_summary(), _summary(id="def")], total=10, unread=4, matched=7)
    data = mj.page(page, start=5, tags=["t"], unread_matched=3)
    assert {k: v for k, v in data.items() if k != "messages"} == {
        "total": 10, "unread": 4, "count": 2, "messages_count": 7, "messages_unread": 3, "start": 5,
        "tags": ["t"],
    }
    assert [m["ID"] for m in data["messages"]] == ["abc", "def"]
    assert mj.page(page, 0, [])["messages_unread"] == 4


def test_part_falls_back_to_content_id_and_has_preview_fields() -> None:
    data = mj.part(_part("2.1", KIND_INLINE, content_id="logo@x", sha256="a" * 64))
    assert data == {
        "PartID": "2.1", "FileName": "logo@x", "ContentType": "image/png", "ContentID": "logo@x", "Size": 10,
        "Checksums": {"MD5": "m" * 32, "SHA1": "s" * 40, "SHA256": "a" * 64},
        "PreviewID": "a" * 64, "PreviewURL": "/preview/" + "a" * 64,
    }
    assert mj.part(_part("3", KIND_ATTACHMENT, filename="f.pdf", content_id="c"))["FileName"] == "f.pdf"


def test_message_splits_parts_and_falls_back_to_created_date() -> None:
    detail = MessageDetail(
        **{k: getattr(_summary(), k) for k in MessageSummary.__slots__},
        return_path="bounce@example.com", date=None, header_end=100,
        parts=[_part("1", KIND_TEXT, content_type="text/plain"), _part("2", KIND_HTML, content_type="text/html"),
               _part("3", KIND_INLINE), _part("4", KIND_ATTACHMENT), _part("5", KIND_ATTACHMENT)],
    )
    data = mj.message(detail, "text", "<p>html</p>", "<mailto:u@x>, <https://x/u>", "List-Unsubscribe=One-Click")
    for key in ("ID", "MessageID", "From", "To", "Cc", "Bcc", "ReplyTo", "ReturnPath", "Subject",
                "ListUnsubscribe", "Date", "Tags", "Username", "Text", "HTML", "Size", "Inline", "Attachments"):
        assert key in data, key
    assert [p["PartID"] for p in data["Inline"]] == ["3"]
    assert [p["PartID"] for p in data["Attachments"]] == ["4", "5"]
    assert data["Date"] == data["Created"] == "2026-11-22T10:11:12.345Z"
    assert data["ListUnsubscribe"] == {"Header": "<mailto:u@x>, <https://x/u>", "Links": ["mailto:u@x", "https://x/u"],
                                       "Errors": "", "HeaderPost": "List-Unsubscribe=One-Click"}
    assert data["ReturnPath"] == "bounce@example.com" and data["Text"] == "text"


def test_list_unsubscribe_errors() -> None:
    assert mj.list_unsubscribe(None, None) == {"Header": "", "Links": [], "Errors": "", "HeaderPost": ""}
    assert mj.list_unsubscribe("https://no-brackets", None)["Errors"]
    assert "unsupported" in mj.list_unsubscribe("<javascript:alert(1)>", None)["Errors"]
