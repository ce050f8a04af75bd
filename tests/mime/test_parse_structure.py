"""MIME structure on the fast path: part ids, kinds, metadata, offsets."""

from __future__ import annotations

from mailcapture.mime import KIND_ATTACHMENT, KIND_HTML, KIND_INLINE, KIND_TEXT, parse

from .messages import PDF, PNG, alternative_with_attachments, as_crlf, crlf, part_bytes, related_with_cid_images


def _shape(raw: bytes) -> list[tuple[str, str, str]]:
    return [(p.part_id, p.kind, p.content_type) for p in parse(raw).parts]


def test_single_part_text_body_is_part_1() -> None:
    raw = crlf("Subject: s\nContent-Type: text/plain; charset=UTF-8\n\nhello\nworld\n")
    parsed = parse(raw)
    (part,) = parsed.parts
    assert (part.part_id, part.kind, part.charset) == ("1", KIND_TEXT, "utf-8")
    assert (part.start, part.end) == (parsed.header_end, len(raw))
    assert raw[part.start : part.end] == b"hello\r\nworld\r\n"


def test_single_part_html_and_single_part_pdf() -> None:
    assert _shape(crlf("Content-Type: text/html\n\n<p>x</p>")) == [("1", KIND_HTML, "text/html")]
    raw = crlf("Content-Type: application/pdf; name=doc.pdf\nContent-Transfer-Encoding: base64\n\nJVBERg==\n")
    parsed = parse(raw)
    assert [(p.part_id, p.kind, p.filename) for p in parsed.parts] == [("1", KIND_ATTACHMENT, "doc.pdf")]
    assert part_bytes(raw, parsed, "1") == b"%PDF"


def test_alternative_inside_mixed() -> None:
    raw = as_crlf(alternative_with_attachments())
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert [(p.part_id, p.kind, p.content_type, p.filename) for p in parsed.parts] == [
        ("1.1", KIND_TEXT, "text/plain", ""),
        ("1.2", KIND_HTML, "text/html", ""),
        ("2", KIND_ATTACHMENT, "application/pdf", "report.pdf"),
        ("3", KIND_ATTACHMENT, "image/png", "picture.png"),
    ]
    assert part_bytes(raw, parsed, "1.1") == b"Plain body\r\nwith two lines\r\n"
    assert part_bytes(raw, parsed, "2") == PDF
    assert parsed.parts[2].disposition == "attachment"
    assert parsed.parts[2].encoding == "base64"


def test_related_cid_images_are_inline() -> None:
    raw = as_crlf(related_with_cid_images())
    parsed = parse(raw)
    assert [(p.part_id, p.kind, p.content_id, p.filename) for p in parsed.parts] == [
        ("1.1", KIND_TEXT, "", ""),
        ("1.2.1", KIND_HTML, "", ""),
        ("1.2.2", KIND_INLINE, "img1@x", ""),
        # add_related(filename=...) writes "Content-Disposition: attachment": Mailpit lists it so.
        ("1.2.3", KIND_ATTACHMENT, "img2@x", "second.png"),
        ("2", KIND_ATTACHMENT, "", "data.csv"),
    ]
    assert part_bytes(raw, parsed, "1.2.2") == PNG


def test_second_alternative_and_attached_text_are_attachments_images_inline() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        '--b\nContent-Type: multipart/alternative; boundary="a"\n\n'
        "--a\nContent-Type: text/plain\n\nfirst\n--a\nContent-Type: text/plain\n\nsecond\n"
        "--a\nContent-Type: text/html\n\n<p>h</p>\n--a\nContent-Type: text/html\n\n<p>h2</p>\n--a--\n"
        '--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename="notes.txt"\n\nnotes\n'
        "--b\nContent-Type: image/gif\nContent-Disposition: inline\n\nGIF\n"
        "--b\nContent-Type: image/gif\nContent-ID: <not-related@x>\n\nGIF\n--b--\n"
    )
    parsed = parse(raw)
    assert [(p.part_id, p.kind) for p in parsed.parts] == [
        ("1.1", KIND_TEXT),
        ("1.2", KIND_ATTACHMENT),
        ("1.3", KIND_HTML),
        ("1.4", KIND_ATTACHMENT),
        ("2", KIND_ATTACHMENT),
        ("3", KIND_INLINE),
        ("4", KIND_INLINE),
    ]
    assert parsed.parts[4].filename == "notes.txt"
    assert part_bytes(raw, parsed, "1.2") == b"second"


def test_attached_text_before_body_does_not_become_the_body() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nattached\n"
        "--b\nContent-Type: text/plain\n\nreal body\n--b--\n"
    )
    parsed = parse(raw)
    assert [(p.part_id, p.kind) for p in parsed.parts] == [("1", KIND_ATTACHMENT), ("2", KIND_TEXT)]


def test_message_rfc822_is_a_leaf() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="outer"\n\n'
        "--outer\nContent-Type: text/plain\n\nsee attached\n"
        '--outer\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename="fwd.eml"\n\n'
        'Subject: inner\nContent-Type: multipart/mixed; boundary="inner"\n\n'
        "--inner\nContent-Type: text/plain\n\ninner body\n--inner--\n"
        "--outer--\n"
    )
    parsed = parse(raw)
    assert [(p.part_id, p.kind, p.content_type, p.filename) for p in parsed.parts] == [
        ("1", KIND_TEXT, "text/plain", ""),
        ("2", KIND_ATTACHMENT, "message/rfc822", "fwd.eml"),
    ]
    inner = part_bytes(raw, parsed, "2")
    assert inner.startswith(b"Subject: inner\r\n") and inner.endswith(b"--inner--")
    assert parse(inner).parts[0].kind == KIND_TEXT


def test_filenames_rfc2231_rfc2047_and_name_parameter() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.pdf\n\nx\n"
        "--b\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment;\n filename*0*=utf-8''long%20;\n filename*1=name.pdf\n\nx\n"
        "--b\nContent-Type: application/pdf\n"
        'Content-Disposition: attachment; filename="=?utf-8?q?caf=C3=A9?=.pdf"\n\nx\n'
        '--b\nContent-Type: application/pdf; name="from-name.pdf"\n\nx\n'
        "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=x-bogus''%FF.pdf\n\nx\n"
        "--b--\n"
    )
    names = [p.filename for p in parse(raw).parts]
    assert names[:4] == ["€ rates.pdf", "long name.pdf", "café.pdf", "from-name.pdf"]
    assert names[4].endswith(".pdf")


def test_digest_children_default_to_message_rfc822() -> None:
    raw = crlf(
        'Content-Type: multipart/digest; boundary="d"\n\n'
        "--d\n\nSubject: one\n\nfirst\n--d\nContent-Type: text/plain\n\nplain\n--d--\n"
    )
    assert [(p.part_id, p.content_type) for p in parse(raw).parts] == [("1", "message/rfc822"), ("2", "text/plain")]


def test_part_metadata_and_exact_offsets() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        '--b\nContent-Type: text/plain; charset="ISO-8859-1"\nContent-Transfer-Encoding: Quoted-Printable\n\n'
        "caf=E9\n"
        "--b\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Disposition: INLINE\n"
        "Content-Transfer-Encoding: BASE64\n\nQUJD\n--b--\n"
    )
    parsed = parse(raw)
    text, image = parsed.parts
    assert (text.charset, text.encoding, raw[text.start : text.end]) == ("iso-8859-1", "quoted-printable", b"caf=E9")
    assert (image.content_id, image.disposition, image.encoding, image.kind) == ("logo@x", "inline", "base64", "inline")
    assert raw[image.start : image.end] == b"QUJD"


def test_kinds_follow_mailpit_for_undisposed_and_octet_stream_parts() -> None:
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        '--b\nContent-Type: multipart/related; boundary="r"\n\n'
        "--r\nContent-Type: text/html\n\n<img src=cid:a>\n"
        "--r\nContent-Type: image/png\nContent-ID: <a>\nContent-Disposition: attachment; filename=a.png\n\nPNG\n"
        "--r--\n"
        "--b\nContent-Type: image/jpeg; name=photo.jpg\n\nJPEG\n"
        "--b\nContent-Type: application/octet-stream; name=blob.bin\n\nBIN\n"
        "--b\nContent-Type: application/octet-stream\nContent-Disposition: inline\n\nBIN\n"
        "--b\nContent-Type: message/rfc822\n\nSubject: no disposition\n\nx\n"
        "--b\nContent-Type: application/pdf\nContent-Disposition: form-data\n\nPDF\n"
        "--b--\n"
    )
    assert [(p.part_id, p.kind) for p in parse(raw).parts] == [
        ("1.1", KIND_HTML),
        ("1.2", KIND_ATTACHMENT),  # disposed as attachment, even with a Content-ID
        ("2", KIND_INLINE),  # no disposition, not a text body: Mailpit lists it under Inline
        ("3", KIND_ATTACHMENT),  # octet-stream
        ("4", KIND_INLINE),
        ("5", KIND_INLINE),
        ("6", KIND_ATTACHMENT),  # unknown dispositions count as attachment
    ]


def test_single_part_non_text_kinds() -> None:
    assert _shape(crlf("Content-Type: image/png\n\nPNG")) == [("1", KIND_ATTACHMENT, "image/png")]
    inline = crlf("Content-Type: image/png\nContent-Disposition: inline\n\nPNG")
    assert _shape(inline) == [("1", KIND_INLINE, "image/png")]
    attached_text = crlf("Content-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nx")
    assert _shape(attached_text) == [("1", KIND_ATTACHMENT, "text/plain")]
    inline_text = crlf("Content-Type: text/plain\nContent-Disposition: inline\n\nx")
    assert _shape(inline_text) == [("1", KIND_TEXT, "text/plain")]
