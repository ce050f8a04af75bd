"""POST /api/v1/send's JSON -> MIME builder, checked by parsing its output with the stdlib."""

from __future__ import annotations

import base64
import email
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from mailcapture.errors import BadRequest
from mailcapture.web.send import build_message

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def _full() -> dict[str, Any]:
    return {
        "From": {"Email": "alice@example.com", "Name": "Alice Ä"},
        "To": [{"Email": "bob@example.com", "Name": "Bob"}],
        "Cc": [{"Email": "carol@example.com"}],
        "Bcc": ["dave@example.com"],
        "ReplyTo": [{"Email": "reply@example.com", "Name": "Reply"}],
        "Subject": "Grüße",
        "Text": "plain ☃",
        "HTML": '<p>html <img src="cid:logo@x"></p>',
        "Attachments": [
            {"Content": base64.b64encode(b"%PDF-1.4 x").decode(), "Filename": "doc.pdf"},
            {"Content": "data:image/png;base64," + base64.b64encode(PNG).decode(), "Filename": "logo.png",
             "ContentType": "image/png", "ContentID": "logo@x"},
        ],
        "Headers": {"X-Custom": "yes"},
        "Tags": ["one", "Two"],
    }


def test_full_message_structure() -> None:
    built = build_message(_full())
    assert built.mail_from == "alice@example.com"
    assert built.recipients == ["bob@example.com", "carol@example.com", "dave@example.com"]
    assert b"\r\n" in built.raw and b"\n" not in built.raw.replace(b"\r\n", b"")
    msg = _parse(built.raw)
    assert msg["Subject"] == "Grüße"
    assert msg["From"].addresses[0].display_name == "Alice Ä"
    assert msg["Bcc"] is None  # blind copies stay in the envelope only
    assert msg["X-Tags"] == "one, Two" and msg["X-Custom"] == "yes"
    assert msg["Message-ID"] and msg["Date"]
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_body(("plain",)).get_content().strip() == "plain ☃"  # type: ignore[union-attr]
    html = msg.get_body(("html",))
    assert html is not None and "cid:logo@x" in html.get_content()
    inline = [p for p in msg.walk() if p["Content-ID"] == "<logo@x>"]
    assert len(inline) == 1 and inline[0].get_payload(decode=True) == PNG
    assert inline[0].get_content_disposition() == "inline"
    (pdf,) = [p for p in msg.iter_attachments() if p.get_filename() == "doc.pdf"]
    assert pdf.get_content_type() == "application/pdf"  # guessed from the file name
    assert pdf.get_payload(decode=True) == b"%PDF-1.4 x"


def test_text_only() -> None:
    built = build_message({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}],
                           "Subject": "s", "Text": "hello"})
    msg = _parse(built.raw)
    assert msg.get_content_type() == "text/plain" and msg.get_content().strip() == "hello"


@pytest.mark.parametrize("change, message", [
    ({"From": None}, "From"),
    ({"From": {"Email": "not an address"}}, "From"),
    ({"To": [{"Email": "x@y"}, {"Email": "bad"}], "Cc": None, "Bcc": None}, "To"),
    ({"To": "bob@example.com"}, "To must be an array"),
    ({"To": [], "Cc": [], "Bcc": []}, "recipient"),
    ({"Subject": "a\r\nBcc: evil@example.com"}, "line breaks"),
    ({"Headers": {"Subject": "override"}}, "cannot overwrite"),
    ({"Headers": {"X-Evil": "a\r\nBcc: x@y"}}, "line breaks"),
    ({"Headers": {"Bad Name": "v"}}, "invalid header name"),
    ({"Headers": {"X-Num": 5}}, "must be a string"),
    ({"Attachments": [{"Content": "***", "Filename": "x.bin"}]}, "base64"),
    ({"Attachments": [{"Content": "", "Filename": "x", "ContentType": "nonsense"}]}, "ContentType"),
    ({"Tags": ["a,b"]}, "commas"),
    ({"Tags": "a"}, "Tags"),
])
def test_bad_input_is_a_clear_bad_request(change: dict[str, Any], message: str) -> None:
    data = _full()
    data.update(change)
    with pytest.raises(BadRequest, match=message):
        build_message(data)
