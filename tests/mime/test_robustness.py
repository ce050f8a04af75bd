"""Hostile and broken input: parse() never raises and still says something useful."""

from __future__ import annotations

import time

import pytest

from mailcapture.mime import KIND_ATTACHMENT, KIND_HTML, KIND_TEXT, decode, decode_text, parse
from mailcapture.mime.fast import MAX_DEPTH
from mailcapture.mime.parser import MAX_DEFECTS

from .messages import crlf, part_bytes


def test_missing_final_boundary_last_part_runs_to_the_end() -> None:
    raw = crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\n\nfirst\n--b\nContent-Type: text/html\n\n<p>last')
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert [(p.part_id, p.kind) for p in parsed.parts] == [("1", KIND_TEXT), ("2", KIND_HTML)]
    assert parsed.parts[1].end == len(raw)
    assert part_bytes(raw, parsed, "2") == b"<p>last"
    assert any("closing boundary" in d for d in parsed.defects)


def test_broken_base64_attachment() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: application/pdf\n'
        "Content-Transfer-Encoding: base64\n\nJVBER!!!i0x\nLj\n--b--\n"
    )
    parsed = parse(raw)
    assert part_bytes(raw, parsed, "1") == decode(b"JVBERi0xLj", "base64") == b"%PDF-1."


def test_unknown_charset_text_body() -> None:
    raw = crlf("Content-Type: text/plain; charset=x-no-such-charset\n\nh\u00e9llo\n")
    parsed = parse(raw)
    part = parsed.parts[0]
    assert (part.kind, part.charset) == (KIND_TEXT, "x-no-such-charset")
    assert decode_text(part_bytes(raw, parsed, "1"), part.charset) == "h\u00e9llo\r\n"


def test_8bit_headers_in_parts_and_filenames() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\nSubject: \xe9t\xe9\r\n\r\n'
        b'--b\r\nContent-Type: application/pdf; name="r\xc3\xa9sum\xc3\xa9.pdf"\r\n\r\nx\r\n--b--\r\n'
    )
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert parsed.subject == "\u00e9t\u00e9"
    assert parsed.parts[0].filename == "r\u00e9sum\u00e9.pdf"


def test_100k_header_line() -> None:
    long_value = "word " * 20_000
    raw = crlf(f"Subject: {long_value}\nTo: {'x@example.com, ' * 6000}\nX-Junk: {'=?' * 50_000}\n\nbody\n")
    started = time.perf_counter()
    parsed = parse(raw)
    assert time.perf_counter() - started < 2.0
    assert parsed.parser == "fast"
    assert parsed.subject == long_value.strip()
    assert len(parsed.to) == 6000
    assert parsed.parts[0].kind == KIND_TEXT


def _nested(depth: int) -> bytes:
    lines = [b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n']
    for level in range(1, depth):
        lines.append(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (level - 1, level))
    lines.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n--b%d--\r\n" % (depth - 1, depth - 1))
    lines.extend(b"--b%d--\r\n" % level for level in range(depth - 2, -1, -1))
    return b"".join(lines)


def test_multipart_nested_1000_deep() -> None:
    parsed = parse(_nested(1000))
    assert parsed.parser == "fast"
    (part,) = parsed.parts
    assert part.part_id == ".".join(["1"] * MAX_DEPTH)
    assert (part.content_type, part.kind) == ("multipart/mixed", KIND_ATTACHMENT)
    assert "nesting" in parsed.defects[0]


def test_unclosed_nesting_1000_deep_keeps_defects_bounded() -> None:
    head = b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    body = b"".join(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1) for i in range(1000))
    parsed = parse(head + body + b"--b1000\r\n\r\ncore\r\n")
    assert parsed.parser == "fast"
    assert len(parsed.defects) == MAX_DEFECTS
    assert "nesting" in parsed.defects[0]
    assert parsed.defects[-1].startswith("... and ")


def test_multipart_nested_shallow_enough_is_fully_parsed() -> None:
    parsed = parse(_nested(50))
    (part,) = parsed.parts
    assert (part.part_id, part.kind) == (".".join(["1"] * 50), KIND_TEXT)


def test_deep_nesting_on_the_fallback_path_does_not_crash() -> None:
    # Bare CR line endings defeat the fast path; the standard parser then recurses 1000 deep.
    parsed = parse(_nested(1000).replace(b"\r\n", b"\r"))
    assert parsed.parser in ("stdlib", "headers")
    assert parsed.defects


@pytest.mark.parametrize("raw", [b"", b"\r\n", b"\n", b"Subject: x\r\n\r\n", b"Subject: x", b"Subject: x\r\n"])
def test_zero_byte_message_and_body(raw: bytes) -> None:
    parsed = parse(raw)
    assert parsed.parser == "fast"
    (part,) = parsed.parts
    assert part.start == part.end == len(raw)
    assert parsed.header_end == len(raw)


def test_bare_lf_message() -> None:
    raw = (
        b'Subject: lf\nContent-Type: multipart/alternative; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nplain\n--b\nContent-Type: text/html\n\n<p>h</p>\n--b--\n"
    )
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert parsed.subject == "lf"
    assert [part_bytes(raw, parsed, i) for i in ("1", "2")] == [b"plain", b"<p>h</p>"]


def test_no_content_type_is_plain_text() -> None:
    parsed = parse(crlf("Subject: x\n\nhello\n"))
    assert [(p.content_type, p.kind, p.encoding) for p in parsed.parts] == [("text/plain", KIND_TEXT, "7bit")]


def test_invalid_content_type_is_octet_stream() -> None:
    parsed = parse(crlf("Content-Type: garbage\n\nhello\n"))
    assert [(p.content_type, p.kind) for p in parsed.parts] == [("application/octet-stream", KIND_ATTACHMENT)]


def test_boundary_with_quotes_and_special_characters() -> None:
    boundary = "=_'()+_,-./:=? x"
    raw = crlf(
        f'Content-Type: multipart/mixed;\n boundary="{boundary}"\n\n'
        f"--{boundary}\n\none\n--{boundary}-not-a-delimiter\nstill one\n"
        f"--{boundary}  \n\ntwo\n--{boundary}--\n"
    )
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert [part_bytes(raw, parsed, i) for i in ("1", "2")] == [
        f"one\r\n--{boundary}-not-a-delimiter\r\nstill one".encode(),
        b"two",
    ]


def test_preamble_and_epilogue_are_ignored() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\nThis is a preamble.\n--b is not a delimiter\n'
        "--b\n\nbody\n--b--\nepilogue\n--b\n\nnot a part\n"
    )
    parsed = parse(raw)
    assert [part_bytes(raw, parsed, p.part_id) for p in parsed.parts] == [b"body"]


def test_multipart_without_boundary_parameter_falls_back() -> None:
    parsed = parse(crlf("Content-Type: multipart/mixed\n\nsome text\n"))
    assert parsed.parser == "stdlib"
    assert [(p.part_id, p.kind, p.data) for p in parsed.parts] == [("1", KIND_TEXT, b"some text\r\n")]


def test_boundary_never_found_falls_back_to_text() -> None:
    parsed = parse(crlf('Content-Type: multipart/mixed; boundary="zzz"\n\n--other\n\nbody\n'))
    assert parsed.parser == "stdlib"
    assert parsed.parts[0].kind == KIND_TEXT
    assert parsed.parts[0].start == -1 and parsed.parts[0].data is not None


def test_headers_without_blank_line_before_body() -> None:
    raw = crlf("Subject: x\nthis line is body text\nmore\n")
    parsed = parse(raw)
    assert parsed.subject == "x"
    assert part_bytes(raw, parsed, "1") == b"this line is body text\r\nmore\r\n"


def test_part_without_headers_or_separator() -> None:
    raw = crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\nQUJD\n--b\nContent-Type: text/html\n--b--\n')
    parsed = parse(raw)
    shape = [(p.content_type, raw[p.start : p.end]) for p in parsed.parts]
    assert shape == [("text/plain", b"QUJD"), ("text/html", b"")]


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\xff" * 1000,
        b":" * 10_000,
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
        b"Content-Type: multipart/mixed; boundary*0*=x''%ZZ\r\n\r\n",
        b"Content-Type: text/plain; charset*=''\r\nContent-Disposition: ;;;===\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n--b\r\n--b--",
        b"Subject: =?utf-8?b?====?= =?x?q?=ZZ?= =?\r\n\r\n",
        b"From " + b"x" * 100 + b"\r\nSubject: mbox\r\n\r\nbody",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse(raw)
    assert parsed.parser in ("fast", "stdlib", "headers")
    for part in parsed.parts:
        assert part.data is not None or 0 <= part.start <= part.end <= len(raw)


def test_memoryview_input() -> None:
    raw = crlf("Subject: mv\n\nbody\n")
    assert parse(memoryview(raw)).subject == "mv"
