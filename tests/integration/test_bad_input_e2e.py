"""Malformed mail is still captured, listed with best-effort fields and served raw; never a 500."""

from __future__ import annotations

import smtplib

import pytest

from tests.support import CaptureProcess


def _nested(depth: int) -> bytes:
    head = b"From: a@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n"
    body = b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n" % (i, i + 1)
                    for i in range(depth))
    return head + body + b"--b%d\r\nContent-Type: text/plain\r\n\r\ncore\r\n" % depth


BAD_INPUTS = {
    "missing final boundary": (
        b"From: a@example.com\r\nSubject: no end\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XYZ\r\n\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\n"
        b"body without end\r\n--XYZ\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=cut.pdf\r\n\r\nJVBERi0xLjQK\r\n"
    ),
    "broken base64": (
        b"From: a@example.com\r\nSubject: b64\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=x.png\r\n\r\n@@@not*base64!!\r\nQUJD=\r\n--B--\r\n"
    ),
    "unknown charset": (
        b"From: a@example.com\r\nSubject: charset\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
        b"caf\xe9 \xff\r\n"
    ),
    "8-bit headers": "From: J\u00fcrgen <j@example.com>\r\nSubject: Gr\u00fc\u00dfe \u2603\r\n\r\nbody\r\n".encode(),
    "100 kB header line": b"From: a@example.com\r\nSubject: " + b"x" * 100_000 + b"\r\n\r\nbody\r\n",
    "nested 1000 deep": _nested(1000),
    "zero-byte body": b"From: a@example.com\r\nSubject: empty\r\n\r\n",
    "no headers at all": b"just some text without any header\r\n",
    "garbage addresses": b"From: <<<@@>>>\r\nTo: ,,,;;;\r\nDate: not a date\r\nSubject: =?bogus?Q?x?=\r\n\r\nhi\r\n",
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_malformed_mail_is_captured(capture: CaptureProcess, name: str) -> None:
    raw = BAD_INPUTS[name]
    with smtplib.SMTP("127.0.0.1", capture.smtp_port, timeout=30) as client:
        client.sendmail("a@example.com", ["b@example.com"], raw)
    listing = capture.json("GET", "/api/v1/messages")
    assert listing["total"] == 1
    msg_id = listing["messages"][0]["ID"]
    full = capture.json("GET", f"/api/v1/message/{msg_id}")
    assert full["ID"] == msg_id
    status, _, body = capture.request("GET", f"/api/v1/message/{msg_id}/raw")
    assert status == 200 and body == raw
    assert capture.request("GET", f"/api/v1/message/{msg_id}/headers")[0] == 200
    for part in full["Attachments"] + full["Inline"]:
        assert capture.request("GET", f"/api/v1/message/{msg_id}/part/{part['PartID']}")[0] == 200
    assert capture.request("GET", "/api/v1/search?query=body")[0] == 200


def test_zero_byte_message(capture: CaptureProcess) -> None:
    with smtplib.SMTP("127.0.0.1", capture.smtp_port, timeout=30) as client:
        client.sendmail("a@example.com", ["b@example.com"], b"")
    listing = capture.json("GET", "/api/v1/messages")
    assert listing["total"] == 1
    msg_id = listing["messages"][0]["ID"]
    assert capture.request("GET", f"/api/v1/message/{msg_id}")[0] == 200
