"""WS /api/events with a real aiohttp WebSocket client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.web.conftest import WebEnv, make_mail

WAIT = 5.0


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> Any:
    """The Data of the next event of ``kind`` (other kinds, e.g. stats, are skipped)."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        event = json.loads(msg.data)
        assert set(event) == {"Type", "Data"}
        if event["Type"] == kind:
            return event["Data"]


async def _subscribers(env: WebEnv, expected: int) -> None:
    for _ in range(200):
        if env.ctx.events.subscribers == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{env.ctx.events.subscribers} subscribers, expected {expected}")


async def test_new_update_delete_events(env: WebEnv) -> None:
    base = env.ctx.events.subscribers  # the app's own runtime counter subscribes too
    async with env.client.ws_connect("/api/events") as ws:
        await _subscribers(env, base + 1)
        msg_id = await env.deliver(make_mail("live"))
        new = await _next(ws, "new")
        assert new["ID"] == msg_id and new["Subject"] == "live" and new["Read"] is False
        await env.call("GET", f"/api/v1/message/{msg_id}")
        assert await _next(ws, "update") == {"ID": msg_id, "Read": True}
        stats = await _next(ws, "stats")
        assert stats["Total"] == 1 and stats["Unread"] == 0
        await env.call("DELETE", "/api/v1/messages", json={"IDs": [msg_id]})
        assert await _next(ws, "delete") == {"ID": msg_id}
        await env.call("DELETE", "/api/v1/messages")
        assert await _next(ws, "truncate") is None
    await _subscribers(env, base)  # closing the socket unsubscribes


async def test_many_clients_and_disconnects(env: WebEnv) -> None:
    base = env.ctx.events.subscribers
    sockets = [await env.client.ws_connect("/api/events") for _ in range(5)]
    await _subscribers(env, base + 5)
    await env.deliver(make_mail("fan-out"))
    for ws in sockets:
        assert (await _next(ws, "new"))["Subject"] == "fan-out"
    for ws in sockets:
        await ws.close()
    await _subscribers(env, base)


async def test_stats_events_are_debounced(env: WebEnv) -> None:
    ids = [await env.deliver(make_mail(f"m{n}")) for n in range(5)]
    base = env.ctx.events.subscribers
    async with env.client.ws_connect("/api/events") as ws:
        await _subscribers(env, base + 1)
        for msg_id in ids:
            await env.call("PUT", "/api/v1/messages", json={"IDs": [msg_id], "Read": True})
        stats = [await _next(ws, "stats")]
        await env.call("DELETE", "/api/v1/messages", json={"IDs": ids[:1]})
        stats.append(await _next(ws, "stats"))
    # five quick changes gave one event with the final counts; the later delete its own
    assert stats == [{"Total": 5, "Unread": 0, "Version": stats[0]["Version"]},
                     {"Total": 4, "Unread": 0, "Version": stats[0]["Version"]}]


async def test_a_client_that_falls_behind_is_told_and_memory_stays_bounded(env: WebEnv) -> None:
    base = env.ctx.events.subscribers
    async with env.client.ws_connect("/api/events") as ws:
        await _subscribers(env, base + 1)
        for n in range(2000):  # published synchronously: no chance for the socket to drain in between
            env.ctx.events.publish("update", {"ID": str(n)})
        env.ctx.events.publish("update", {"ID": "last"})
        received: list[dict[str, Any]] = []
        while True:
            msg = await asyncio.wait_for(ws.receive(), WAIT)
            event = json.loads(msg.data)
            received.append(event)
            if event["Data"] == {"ID": "last"}:
                break
    assert len(received) <= 300  # the per-client queue (256), not 2001
    assert any(e["Type"] == "lagged" for e in received)


async def test_bulk_changes_send_one_lagged_event(env: WebEnv) -> None:
    from mailcapture.web import notify

    base = env.ctx.events.subscribers
    async with env.client.ws_connect("/api/events") as ws:
        await _subscribers(env, base + 1)
        notify.updated(env.ctx, [str(n) for n in range(notify.PER_MESSAGE_EVENTS_MAX + 1)], Read=True)
        notify.deleted(env.ctx, [str(n) for n in range(notify.PER_MESSAGE_EVENTS_MAX + 1)], everything=False)
        env.ctx.events.publish("update", {"ID": "marker"})
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["Data"] != {"ID": "marker"}:
            frames.append(json.loads((await asyncio.wait_for(ws.receive(), WAIT)).data))
    assert [f["Type"] for f in frames] == ["lagged", "lagged", "update"]
