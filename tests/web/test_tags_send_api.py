"""/api/v1/tags and POST /api/v1/send over real HTTP on a real SQLite store."""

from __future__ import annotations

import base64
from typing import Any

from tests.web.conftest import PNG_1PX, WebEnv, make_mail


async def test_tags_set_rename_delete(env: WebEnv) -> None:
    a = await env.deliver(make_mail("a", tags="old"))
    b = await env.deliver(make_mail("b"))
    assert await env.call("GET", "/api/v1/tags") == ["old"]
    await env.call("PUT", "/api/v1/tags", json={"IDs": [a, b], "Tags": ["Red", " blue ", "red", ""]})
    summaries = {m["ID"]: m for m in (await env.call("GET", "/api/v1/messages"))["messages"]}
    assert sorted(summaries[a]["Tags"]) == ["Red", "blue"] and sorted(summaries[b]["Tags"]) == ["Red", "blue"]
    await env.call("PUT", "/api/v1/tags/blue", json={"Name": "Green"})
    assert sorted(t.lower() for t in await env.call("GET", "/api/v1/tags")) == ["green", "red"]
    await env.call("DELETE", "/api/v1/tags/Red")
    assert [t.lower() for t in await env.call("GET", "/api/v1/tags")] == ["green"]
    await env.call("PUT", "/api/v1/tags", json={"IDs": [a], "Tags": []})
    summaries = {m["ID"]: m for m in (await env.call("GET", "/api/v1/messages"))["messages"]}
    assert summaries[a]["Tags"] == [] and [t.lower() for t in summaries[b]["Tags"]] == ["green"]


async def test_tag_errors(env: WebEnv) -> None:
    await env.deliver(make_mail("a", tags="t"))
    await env.error("PUT", "/api/v1/tags/missing", 404, json={"Name": "x"})
    await env.error("DELETE", "/api/v1/tags/missing", 404)
    await env.error("PUT", "/api/v1/tags/t", 400, json={"Name": "  "})
    await env.error("PUT", "/api/v1/tags/t", 400, json={"Name": 3})
    await env.error("PUT", "/api/v1/tags", 400, json={"Tags": ["x"]})
    await env.error("PUT", "/api/v1/tags", 400, data=b"nope")


def _send_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "From": {"Email": "app@example.com", "Name": "App"},
        "To": [{"Email": "user@example.com", "Name": "User"}],
        "Bcc": ["audit@example.com"],
        "Subject": "Sent over HTTP",
        "Text": "text body",
        "HTML": "<p>html body</p>",
        "Attachments": [{"Content": base64.b64encode(PNG_1PX).decode(), "Filename": "p.png"}],
        "Headers": {"X-Source": "api"},
        "Tags": ["api-sent"],
    }
    body.update(changes)
    return body


async def test_send_round_trip(env: WebEnv) -> None:
    result = await env.call("POST", "/api/v1/send", json=_send_body())
    assert set(result) == {"ID"}
    full = await env.call("GET", f"/api/v1/message/{result['ID']}")
    assert full["Subject"] == "Sent over HTTP" and full["Text"].strip() == "text body"
    assert full["HTML"].strip() == "<p>html body</p>"
    assert full["From"] == {"Name": "App", "Address": "app@example.com"}
    assert {"Name": "", "Address": "audit@example.com"} in full["Bcc"]
    assert full["Tags"] == ["api-sent"]
    (att,) = full["Attachments"]
    assert att["FileName"] == "p.png" and att["ContentType"] == "image/png" and att["Size"] == len(PNG_1PX)
    headers = await env.call("GET", f"/api/v1/message/{result['ID']}/headers")
    assert headers["X-Source"] == ["api"] and "Bcc" not in headers


async def test_send_errors(env: WebEnv) -> None:
    await env.error("POST", "/api/v1/send", 400, data=b"{")
    await env.error("POST", "/api/v1/send", 400, json=_send_body(From={"Email": "nope"}))
    await env.error("POST", "/api/v1/send", 400, json=_send_body(Headers={"From": "x@example.com"}))
    assert (await env.call("GET", "/api/v1/messages"))["total"] == 0


async def test_send_over_the_size_limit_is_413(make_env: Any) -> None:
    env = await make_env(MAILCAPTURE_MAX_MESSAGE_SIZE="16k")
    big = base64.b64encode(bytes(64 * 1024)).decode()
    await env.error("POST", "/api/v1/send", 413,
                    json=_send_body(Attachments=[{"Content": big, "Filename": "z.bin"}]))
    just_over = base64.b64encode(bytes(15 * 1024)).decode()
    await env.error("POST", "/api/v1/send", 413,
                    json=_send_body(Attachments=[{"Content": just_over, "Filename": "z.bin"}]))
    assert (await env.call("GET", "/api/v1/messages"))["total"] == 0


async def test_api_tags_are_cleaned_like_header_tags(env: WebEnv) -> None:
    a = await env.deliver(make_mail("a"))
    await env.call("PUT", "/api/v1/tags", json={"IDs": [a], "Tags": ["  two   words ", "<b>bold</b>", "!!!"]})
    (summary,) = (await env.call("GET", "/api/v1/messages"))["messages"]
    assert set(summary["Tags"]) == {"two words", "bbold/b"}
    await env.error("PUT", "/api/v1/tags/two words", 400, json={"Name": "***"})
