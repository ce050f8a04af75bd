from __future__ import annotations

from mailcapture.web.headers import canonical_name, first, parse_header_block


def test_canonical_names_like_go() -> None:
    assert canonical_name("message-id") == "Message-Id"
    assert canonical_name("CONTENT-TYPE") == "Content-Type"
    assert canonical_name("x-mailer") == "X-Mailer"
    assert canonical_name("bad name") == "bad name"


def test_parse_header_block_groups_unfolds_and_sorts() -> None:
    block = (b"Received: from a\r\n\tby b\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nreceived: from c\r\n"
             b"X-Raw: \xff\xfe\r\nTo: a@example.com,\r\n b@example.com\r\n\r\n")
    headers = parse_header_block(block)
    assert list(headers) == sorted(headers)
    assert headers["Received"] == ["from a by b", "from c"]
    assert headers["Subject"] == ["=?utf-8?q?caf=C3=A9?="]  # left encoded, like Mailpit
    assert headers["To"] == ["a@example.com, b@example.com"]
    assert headers["X-Raw"] == ["\ufffd\ufffd"]
    assert first(headers, "received") == "from a by b" and first(headers, "nope") is None


def test_empty_block() -> None:
    assert parse_header_block(b"") == {}
