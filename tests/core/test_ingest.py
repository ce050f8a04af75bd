import hashlib
import os
from email.message import EmailMessage

from mailcapture import ingest
from mailcapture.mime.model import KIND_ATTACHMENT


def _mail(*attachments: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = "Bob <bob+Release@example.com>"
    msg["Cc"] = "carol@example.com"
    msg["Subject"] = "Quarterly   report"
    msg["X-Tags"] = "ci, CI ,  nightly build "
    msg.set_content("Hello\n\n  there,   friends " + "word " * 200)
    for n, data in enumerate(attachments):
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=f"f{n}.bin")
    return msg.as_bytes()


def test_checksums_sizes_and_order_for_small_and_large_parts() -> None:
    blobs = [os.urandom(100), os.urandom(3 * 1024 * 1024), os.urandom(10), os.urandom(600 * 1024)]
    new = ingest.prepare(_mail(*blobs), "alice@example.com", ["bob+Release@example.com"], "")
    atts = [p.record for p in new.parts if p.record.kind == KIND_ATTACHMENT]
    assert [a.filename for a in atts] == ["f0.bin", "f1.bin", "f2.bin", "f3.bin"]
    for record, blob in zip(atts, blobs):
        assert record.size == len(blob)
        assert record.sha256 == hashlib.sha256(blob).hexdigest()
        if len(blob) >= ingest.LAZY_CHECKSUMS_MIN:  # computed on first read (Store.detail)
            assert (record.md5, record.sha1) == ("", "")
        else:
            assert record.md5 == hashlib.md5(blob).hexdigest()
            assert record.sha1 == hashlib.sha1(blob).hexdigest()
    assert ingest.attachment_count(new) == 4


def test_tags_bcc_snippet_and_search_text() -> None:
    new = ingest.prepare(_mail(), "alice@example.com", ["bob+Release@example.com", "hidden@example.com"], "u1")
    assert new.tags == ["ci", "nightly build", "Release"]
    assert [a.address for a in new.bcc] == ["hidden@example.com"]
    assert new.snippet.startswith("Hello there, friends word")
    assert len(new.snippet) == ingest.SNIPPET_LENGTH
    assert "quarterly" in new.search_text and "alice@example.com" in new.search_text
    assert new.username == "u1"
    assert new.return_path == "alice@example.com"


def test_clean_tag() -> None:
    assert ingest.clean_tag("  a<b>  c\t ") == "ab c"
    assert len(ingest.clean_tag("x" * 500)) == ingest.MAX_TAG_LENGTH


def test_snippet_comes_from_the_text_part_or_else_the_html_part() -> None:
    both = EmailMessage()
    both["From"] = "a@example.com"
    both.set_content("plain words here")
    both.add_alternative("<html><body><p>html <b>words</b></p></body></html>", subtype="html")
    assert ingest.prepare(both.as_bytes(), "", [], "").snippet == "plain words here"
    html_only = EmailMessage()
    html_only["From"] = "a@example.com"
    html_only.set_content("<html><body><p>only <b>html</b></p><script>x()</script></body></html>", subtype="html")
    new = ingest.prepare(html_only.as_bytes(), "", [], "")
    assert new.snippet == "only html"
    assert "only html" in new.search_text


def test_big_attachments_hash_right_whether_or_not_their_base64_is_regular() -> None:
    import base64

    blob = os.urandom(2 * 1024 * 1024)
    flat = base64.b64encode(blob)
    layouts = {
        "regular 76": b"\r\n".join(flat[i : i + 76] for i in range(0, len(flat), 76)),
        "odd 75": b"\r\n".join(flat[i : i + 75] for i in range(0, len(flat), 75)),
        "noisy": b"\r\n".join(flat[i : i + 76] + (b" " if i % 7600 == 0 else b"") for i in range(0, len(flat), 76)),
    }
    for name, body in layouts.items():
        raw = (b"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
               b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Disposition: attachment; filename=x.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               + body + b"\r\n--b--\r\n")
        att = next(p.record for p in ingest.prepare(raw, "", [], "").parts if p.record.kind == KIND_ATTACHMENT)
        assert (att.size, att.sha256) == (len(blob), hashlib.sha256(blob).hexdigest()), name
