"""/api/v1/message/{ID}/... and /view/ over real HTTP on a real SQLite store."""

from __future__ import annotations

import hashlib

from tests.web.conftest import PNG_1PX, WebEnv, make_mail


async def test_message_detail_marks_read(env: WebEnv) -> None:
    msg_id = await env.deliver(make_mail(
        "Detail", attachment=PNG_1PX, inline_png=True, tags="x",
        html='<p>hi <img src="cid:logo@example.com"></p>',
        headers={"List-Unsubscribe": "<mailto:u@example.com>, <https://example.com/u>",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                 "Date": "Tue, 01 Apr 2025 10:00:00 +1300", "Cc": "Carol <carol@example.com>"}),
        rcpts=["bob@example.com", "hidden@example.com"])
    full = await env.call("GET", f"/api/v1/message/{msg_id}")
    assert full["ID"] == msg_id and full["Subject"] == "Detail"
    assert full["Text"].strip() == "Plain body of Detail"
    assert 'src="cid:logo@example.com"' in full["HTML"]
    assert full["Cc"] == [{"Name": "Carol", "Address": "carol@example.com"}]
    assert {"Name": "", "Address": "hidden@example.com"} in full["Bcc"]
    assert full["Date"] == "2025-04-01T10:00:00.000+13:00"
    assert full["Tags"] == ["x"] and full["ReturnPath"] == "alice@example.com"
    assert full["ListUnsubscribe"]["Links"] == ["mailto:u@example.com", "https://example.com/u"]
    assert full["ListUnsubscribe"]["HeaderPost"] == "List-Unsubscribe=One-Click"
    (inline,) = full["Inline"]
    assert inline["ContentID"] == "logo@example.com" and inline["FileName"] == "logo.png"
    (att,) = full["Attachments"]
    sha = hashlib.sha256(PNG_1PX).hexdigest()
    assert att["Checksums"] == {"MD5": hashlib.md5(PNG_1PX).hexdigest(), "SHA1": hashlib.sha1(PNG_1PX).hexdigest(),
                                "SHA256": sha}
    assert att["PreviewID"] == sha and att["PreviewURL"] == f"/preview/{sha}" and att["Size"] == len(PNG_1PX)
    listing = await env.call("GET", "/api/v1/messages")
    assert listing["unread"] == 0 and listing["messages"][0]["Read"] is True


async def test_latest_alias_and_query(env: WebEnv) -> None:
    await env.error("GET", "/api/v1/message/latest", 404)
    first = await env.deliver(make_mail("older", tags="keep"))
    second = await env.deliver(make_mail("newer"))
    assert (await env.call("GET", "/api/v1/message/latest"))["ID"] == second
    assert (await env.call("GET", "/api/v1/message/latest?query=tag:keep"))["ID"] == first
    await env.error("GET", "/api/v1/message/latest?query=tag:none", 404)
    await env.error("GET", "/api/v1/message/latest?query=is:bogus", 400)
    assert b"Subject: newer" in await env.call("GET", "/api/v1/message/latest/raw")


async def test_headers(env: WebEnv) -> None:
    msg_id = await env.deliver(make_mail("Hdr", headers={"X-Thing": "one", "Message-ID": "<m1@example.com>"}))
    headers = await env.call("GET", f"/api/v1/message/{msg_id}/headers")
    assert headers["Subject"] == ["Hdr"] and headers["X-Thing"] == ["one"]
    assert headers["Message-Id"] == ["<m1@example.com>"]
    assert "Content-Type" in headers and all(isinstance(v, list) for v in headers.values())
    assert not any("Plain body" in v for values in headers.values() for v in values)


async def test_raw_and_download(env: WebEnv) -> None:
    raw = b"From: a@example.com\r\nSubject: exact\r\n\r\n\xff\xfe bytes\r\n"
    msg_id = await env.deliver(raw)
    async with env.client.get(f"/api/v1/message/{msg_id}/raw") as resp:
        assert resp.status == 200 and await resp.read() == raw
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert "Content-Disposition" not in resp.headers
    async with env.client.get(f"/api/v1/message/{msg_id}/raw?dl=1") as resp:
        assert resp.headers["Content-Disposition"] == f'attachment; filename="{msg_id}.eml"'


async def test_parts(env: WebEnv) -> None:
    msg_id = await env.deliver(make_mail("Parts", attachment=PNG_1PX))
    full = await env.call("GET", f"/api/v1/message/{msg_id}")
    part_id = full["Attachments"][0]["PartID"]
    async with env.client.get(f"/api/v1/message/{msg_id}/part/{part_id}") as resp:
        assert resp.status == 200 and await resp.read() == PNG_1PX
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Content-Disposition"] == 'inline; filename="dot.png"'
    await env.error("GET", f"/api/v1/message/{msg_id}/part/99", 404)


async def test_active_content_parts_are_downloads(env: WebEnv) -> None:
    msg = make_mail("Active")
    msg.add_attachment(b"<svg onload='alert(1)'/>", maintype="image", subtype="svg+xml", filename="x.svg")
    msg_id = await env.deliver(msg)
    full = await env.call("GET", f"/api/v1/message/{msg_id}")
    (svg,) = full["Attachments"]
    async with env.client.get(f"/api/v1/message/{msg_id}/part/{svg['PartID']}") as resp:
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert resp.headers["Content-Disposition"].startswith("attachment;")


async def test_unknown_ids_are_404_everywhere(env: WebEnv) -> None:
    for suffix in ("", "/headers", "/raw", "/part/1", "/part/1/thumb"):
        await env.error("GET", f"/api/v1/message/nope{suffix}", 404)
    await env.error("GET", "/view/nope.html", 404)
    await env.error("GET", "/view/nope.txt", 404)


async def test_view_html_and_text(env: WebEnv) -> None:
    msg_id = await env.deliver(make_mail(
        "View", inline_png=True, html='<p>x<script>alert(1)</script><img src="cid:logo@example.com"></p>'))
    async with env.client.get(f"/view/{msg_id}.html") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'none'" in csp and "sandbox" in csp
        body = await resp.text()
    full = await env.call("GET", f"/api/v1/message/{msg_id}")
    part_id = full["Inline"][0]["PartID"]
    assert f'src="/api/v1/message/{msg_id}/part/{part_id}"' in body
    async with env.client.get("/view/latest.txt") as resp:
        assert resp.status == 200 and resp.content_type == "text/plain"
        assert (await resp.text()).strip() == "Plain body of View"


async def test_large_bodies_round_trip(env: WebEnv) -> None:
    text = "line of text ☃\n" * 40_000  # ~0.6 MB: decoded and encoded off the event loop
    msg_id = await env.deliver(make_mail("Large", text=text, html="<p>" + "x" * 300_000 + "</p>"))
    full = await env.call("GET", f"/api/v1/message/{msg_id}")
    assert full["Text"].replace("\r\n", "\n") == text and len(full["HTML"].strip()) == 300_007
