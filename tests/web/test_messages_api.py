"""/api/v1/messages and /api/v1/search over real HTTP on a real SQLite store."""

from __future__ import annotations

import pytest

from tests.web.conftest import WebEnv, make_mail


async def _three(env: WebEnv) -> list[str]:
    ids = [await env.deliver(make_mail(f"mail {n}", tags="even" if n % 2 == 0 else "")) for n in range(3)]
    return ids


async def test_list_shape_order_and_paging(env: WebEnv) -> None:
    ids = await _three(env)
    data = await env.call("GET", "/api/v1/messages")
    assert {k: data[k] for k in ("total", "unread", "count", "messages_count", "messages_unread", "start")} == {
        "total": 3, "unread": 3, "count": 3, "messages_count": 3, "messages_unread": 3, "start": 0}
    assert data["tags"] == ["even"]
    assert [m["ID"] for m in data["messages"]] == ids[::-1]  # newest first
    first = data["messages"][0]
    assert first["Subject"] == "mail 2" and first["Read"] is False
    assert first["From"] == {"Name": "Alice", "Address": "alice@example.com"}
    assert first["Created"].endswith("Z") and "." in first["Created"]
    page = await env.call("GET", "/api/v1/messages?start=1&limit=1")
    assert page["start"] == 1 and page["count"] == 1 and page["total"] == 3
    assert [m["ID"] for m in page["messages"]] == [ids[1]]


@pytest.mark.parametrize("query", ["start=x", "limit=1.5", "start=-1", "limit=-3", "limit=99999999"])
async def test_bad_paging_is_400(env: WebEnv, query: str) -> None:
    await env.error("GET", f"/api/v1/messages?{query}", 400)
    await env.error("GET", f"/api/v1/search?query=a&{query}", 400)


async def test_search_counts_and_errors(env: WebEnv) -> None:
    ids = await _three(env)
    await env.call("GET", f"/api/v1/message/{ids[0]}")  # read mail 0
    data = await env.call("GET", "/api/v1/search?query=tag:even")
    assert data["messages_count"] == 2 and data["total"] == 3 and data["count"] == 2
    assert data["messages_unread"] == 1 and data["unread"] == 2
    assert {m["Subject"] for m in data["messages"]} == {"mail 0", "mail 2"}
    assert (await env.call("GET", "/api/v1/search?query=subject:%22mail%201%22"))["messages_count"] == 1
    await env.error("GET", "/api/v1/search", 400)
    await env.error("GET", "/api/v1/search?query=%20%20", 400)
    await env.error("GET", "/api/v1/search?query=is:bogus", 400)
    await env.error("GET", "/api/v1/search?query=after:2024-01-01&tz=Nowhere/Nope", 400)
    tz = await env.call("GET", "/api/v1/search?query=after:2000-01-01&tz=Pacific/Auckland")
    assert tz["messages_count"] == 3


async def test_set_read_by_ids_search_and_all(env: WebEnv) -> None:
    ids = await _three(env)
    assert await env.call("PUT", "/api/v1/messages", json={"IDs": [ids[0]], "Read": True}) == b"ok"
    assert (await env.call("GET", "/api/v1/messages"))["unread"] == 2
    await env.call("PUT", "/api/v1/messages", json={"Search": "tag:even", "Read": True})
    assert (await env.call("GET", "/api/v1/messages"))["unread"] == 1
    await env.call("PUT", "/api/v1/messages", json={"Read": False})
    assert (await env.call("GET", "/api/v1/messages"))["unread"] == 3
    await env.call("PUT", "/api/v1/messages", json={"Read": True})
    assert (await env.call("GET", "/api/v1/messages"))["unread"] == 0


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", b'{"IDs": "abc"}', b'{"IDs": [1]}', b'{"Read": "yes"}',
    b'{"IDs": ["a"], "Search": "x"}', b'{"Search": 5}', b"",
])
async def test_set_read_bad_bodies_are_400(env: WebEnv, body: bytes) -> None:
    await env.error("PUT", "/api/v1/messages", 400, data=body, headers={"Content-Type": "application/json"})


async def test_delete_by_ids_all_and_search(env: WebEnv) -> None:
    ids = await _three(env)
    assert await env.call("DELETE", "/api/v1/messages", json={"IDs": [ids[1]]}) == b"ok"
    assert [m["ID"] for m in (await env.call("GET", "/api/v1/messages"))["messages"]] == [ids[2], ids[0]]
    await env.call("DELETE", "/api/v1/search?query=subject:%22mail%202%22")
    assert [m["ID"] for m in (await env.call("GET", "/api/v1/messages"))["messages"]] == [ids[0]]
    await env.error("DELETE", "/api/v1/search", 400)
    await env.error("DELETE", "/api/v1/messages", 400, data=b"{bad")
    assert (await env.call("GET", "/api/v1/messages"))["total"] == 1  # a bad body deletes nothing
    await env.call("DELETE", "/api/v1/messages")  # no body: everything
    assert (await env.call("GET", "/api/v1/messages"))["total"] == 0
    info = await env.call("GET", "/api/v1/info")
    assert info["RuntimeStats"]["MessagesDeleted"] == 3
