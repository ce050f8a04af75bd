"""Top-level header fields."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

from mailcapture.mime import Address, parse

from .messages import crlf


def test_header_fields_are_decoded() -> None:
    raw = crlf(
        "Return-Path: <bounce@example.com>\n"
        "From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.com>\n"
        "Sender: list@example.com\n"
        'To: bob@example.com, "Carol, C." <carol@example.com>\n'
        "Cc: =?iso-8859-1?q?Dani=E8le?= <d@example.com>\n"
        "Bcc: hidden@example.com\n"
        "Reply-To: replies@example.com\n"
        "Subject: =?utf-8?b?SMOpbGxv?=\n =?utf-8?b?IHfDtnJsZA==?= and more\n"
        "Date: Tue, 3 Jan 2023 10:20:30 +0100\n"
        "Message-ID: <abc.123@example.com> (comment)\n"
        "\n"
        "body\n"
    )
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert parsed.subject == "Héllo wörld and more"
    assert parsed.from_ == Address("Jörg Müller", "jorg@example.com")
    assert parsed.sender == Address("", "list@example.com")
    assert parsed.to == [Address("", "bob@example.com"), Address("Carol, C.", "carol@example.com")]
    assert parsed.cc == [Address("Danièle", "d@example.com")]
    assert parsed.bcc == [Address("", "hidden@example.com")]
    assert parsed.reply_to == [Address("", "replies@example.com")]
    assert parsed.return_path == "bounce@example.com"
    assert parsed.message_id == "abc.123@example.com"
    assert parsed.date == datetime(2023, 1, 3, 10, 20, 30, tzinfo=timezone(timedelta(hours=1)))
    assert parsed.headers[0] == ("Return-Path", "<bounce@example.com>")
    assert ("Subject", "Héllo wörld and more") in parsed.headers
    assert parsed.header("subject") == "Héllo wörld and more"
    assert raw[: parsed.header_end].endswith(b"\r\n\r\n")
    assert raw[parsed.header_end :] == b"body\r\n"


def test_multibyte_character_split_across_encoded_words() -> None:
    word = "日本語".encode()
    first, second = word[:4], word[4:]  # splits the second character
    subject = f"=?utf-8?b?{base64.b64encode(first).decode()}?= =?utf-8?b?{base64.b64encode(second).decode()}?="
    parsed = parse(crlf(f"Subject: {subject}\n\nx"))
    assert parsed.subject == "日本語"


def test_date_without_zone_and_garbage_date() -> None:
    assert parse(crlf("Date: Tue, 3 Jan 2023 10:20:30 -0000\n\n")).date == datetime(2023, 1, 3, 10, 20, 30, tzinfo=UTC)
    assert parse(crlf("Date: not a date at all\n\n")).date is None
    assert parse(crlf("Date: Tue, 3 Jan 99999 10:20:30 +0000\n\n")).date is None


def test_raw_8bit_headers_utf8_and_latin1() -> None:
    raw = b"Subject: Gr\xc3\xbc\xc3\x9fe\r\nFrom: Ren\xe9 <rene@example.com>\r\nX-Bin: \xff\xfe\r\n\r\nbody"
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert parsed.subject == "Grüße"
    assert parsed.from_ == Address("René", "rene@example.com")
    assert parsed.header("X-Bin") == "\xff\xfe"


def test_garbage_address_headers_are_best_effort() -> None:
    parsed = parse(crlf("From: <<<@@@>>>\nTo: ,,, ;;;\nCc: just some words\n\nbody"))
    assert parsed.parser == "fast"
    assert parsed.from_ is not None
    assert all(isinstance(a, Address) for a in parsed.to + parsed.cc)


def test_missing_fields_are_empty() -> None:
    parsed = parse(b"X-Only: one\r\n\r\n")
    assert (parsed.subject, parsed.message_id, parsed.return_path) == ("", "", "")
    assert parsed.from_ is None and parsed.sender is None and parsed.date is None
    assert parsed.to == parsed.cc == parsed.bcc == parsed.reply_to == []
