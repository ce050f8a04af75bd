"""Every read endpoint answers malformed mail without a 500."""

from __future__ import annotations

import pytest

from tests.web.conftest import WebEnv

BAD = {
    "no headers": b"just some text\r\n",
    "empty": b"",
    "8-bit headers": "From: J\u00fcrgen <j@example.com>\r\nSubject: Gr\u00fc\u00dfe\r\n\r\nbody\r\n".encode(),
    "unknown charset": b"From: a@example.com\r\nContent-Type: text/plain; charset=x-nope\r\n\r\ncaf\xe9\r\n",
    "broken base64": (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/html\r\n\r\n<p>hi</p>\r\n--B\r\nContent-Type: image/png\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.png\r\n\r\n"
        b"@@@not*base64!!\r\n--B--\r\n"),
    "garbage addresses": b"From: <<<@@>>>\r\nTo: ,,,;;;\r\nDate: nope\r\nList-Unsubscribe: junk\r\n\r\nhi\r\n",
    "long header": b"Subject: " + b"x" * 100_000 + b"\r\n\r\nbody\r\n",
}


@pytest.mark.parametrize("name", list(BAD))
async def test_malformed_mail_is_served(env: WebEnv, name: str) -> None:
    msg_id = await env.deliver(BAD[name])
    full = await env.call("GET", f"/api/v1/message/{msg_id}")
    assert full["ID"] == msg_id
    assert await env.call("GET", f"/api/v1/message/{msg_id}/raw") == BAD[name]
    await env.call("GET", f"/api/v1/message/{msg_id}/headers")
    for part in full["Attachments"] + full["Inline"]:
        await env.call("GET", f"/api/v1/message/{msg_id}/part/{part['PartID']}")
        await env.call("GET", f"/api/v1/message/{msg_id}/part/{part['PartID']}/thumb")
    await env.call("GET", f"/view/{msg_id}.html")
    await env.call("GET", f"/view/{msg_id}.txt")
    assert (await env.call("GET", "/api/v1/search?query=body"))["total"] == 1
