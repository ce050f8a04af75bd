"""decode_text and html_to_text."""

from __future__ import annotations

import time

import pytest

from mailcapture.mime import decode_text, html_to_text


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("héllo".encode(), "utf-8", "héllo"),
        ("héllo".encode(), "UTF8", "héllo"),
        ("héllo".encode("latin-1"), "iso-8859-1", "héllo"),
        ("\u20ac".encode("cp1252"), "iso-8859-1", "\u20ac"),  # C1 bytes read as Windows-1252
        ("日本".encode("shift_jis"), "Shift_JIS", "日本"),
        ("héllo".encode(), '"utf-8"', "héllo"),
        ("héllo".encode(), "us-ascii", "héllo"),  # mislabelled 8-bit text
        ("héllo".encode(), "", "héllo"),
    ],
)
def test_decode_text_known_charsets(data: bytes, charset: str, expected: str) -> None:
    assert decode_text(data, charset) == expected


@pytest.mark.parametrize(
    "charset", ["x-bogus-charset", "base64", "rot13", "zlib", "undefined", "unicode_escape", "\x00"]
)
def test_decode_text_unknown_or_non_text_charset_is_utf8_with_replacement(charset: str) -> None:
    assert decode_text("é".encode() + b"\xff", charset) == "é\ufffd"


def test_decode_text_invalid_bytes_are_replaced() -> None:
    assert decode_text(b"ok \xc3", "utf-8") == "ok \ufffd"


def test_html_to_text_drops_script_style_and_unescapes() -> None:
    html = (
        "<html><head><title>T</title><style>p {color: red}</style></head>"
        "<body><script type='x'>alert('<b>')</script><p>Hello&nbsp;<b>wo</b>rld &amp; you</p>"
        "<!-- hidden --><div>next\n\n  line</div><br>caf&eacute; &#x263a;</body></html>"
    )
    assert html_to_text(html) == "Hello world & you next line café \u263a"


def test_html_to_text_unclosed_script_hides_the_rest() -> None:
    assert html_to_text("<p>shown</p><SCRIPT>var a = '<p>not</p>'") == "shown"


def test_html_to_text_keeps_stray_angle_brackets() -> None:
    assert html_to_text("a < b and c > d") == "a < b and c > d"


def test_html_to_text_is_linear_on_hostile_input() -> None:
    hostile = "<a" * 200_000 + "<script>" * 20_000 + "<!--" * 20_000
    started = time.perf_counter()
    html_to_text(hostile)
    assert time.perf_counter() - started < 2.0
