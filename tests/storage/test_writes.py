"""Read state, deletion (some, all, by query) and retention pruning."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from mailcapture.errors import BadRequest
from mailcapture.search import parse
from mailcapture.storage.sqlite import SQLiteStore

from .builders import BASE_TIME, Inspect, Spec, build


async def add_many(store: SQLiteStore, count: int, start: datetime = BASE_TIME, **spec: Any) -> list[str]:
    return [
        await store.add(build(Spec(message_id=f"{n}@x", created=start + timedelta(minutes=n), **spec)))
        for n in range(count)
    ]


async def test_mark_read_by_ids_query_and_all(store: SQLiteStore) -> None:
    ids = await add_many(store, 4)
    tagged = await store.add(build(Spec(tags=["x"], created=BASE_TIME - timedelta(days=1))))
    assert sorted(await store.mark_read(ids[:2], None, True)) == sorted(ids[:2])
    assert await store.mark_read(ids[:2], None, True) == []  # already read: nothing changed
    assert (await store.stats()).unread == 3
    assert await store.mark_read(None, parse("tag:x"), True) == [tagged]
    assert sorted(await store.mark_read(None, None, False)) == sorted([*ids[:2], tagged])
    assert (await store.stats()).unread == 5
    assert sorted(await store.mark_read(None, None, True)) == sorted([*ids, tagged])
    page = await store.page(None, 0, 10)
    assert page.unread == 0 and all(m.read for m in page.messages)
    assert await store.mark_read(["unknown"], None, False) == []


async def test_delete_some_all_and_by_query(store: SQLiteStore, inspect_db: Inspect) -> None:
    ids = await add_many(store, 5, tags=["t"])
    assert await store.delete([ids[0], "unknown"]) == [ids[0]]
    assert await store.detail(ids[0]) is None and await store.raw(ids[0]) is None
    await store.set_tags([ids[1]], ["special"])
    assert await store.delete_matching(parse("tag:special")) == [ids[1]]
    assert "special" not in await store.tags()
    assert sorted(await store.delete(None)) == sorted(ids[2:])
    stats = await store.stats()
    assert (stats.total, stats.unread, stats.tags) == (0, 0, {})
    assert await store.delete(None) == []
    assert inspect_db("SELECT (SELECT count(*) FROM raw_blocks) + (SELECT count(*) FROM parts) "
                      "+ (SELECT count(*) FROM message_tags)") == [(0,)]


async def test_prune_by_count_keeps_the_newest(store: SQLiteStore) -> None:
    ids = await add_many(store, 230)
    deleted = await store.prune(20, 0)
    assert sorted(deleted) == sorted(ids[:210])  # more than two batches of 100
    page = await store.page(None, 0, 100)
    assert page.total == 20 and {m.id for m in page.messages} == set(ids[210:])
    assert await store.prune(20, 0) == []


async def test_prune_by_age(store: SQLiteStore) -> None:
    now = datetime.now(timezone.utc)
    old = await add_many(store, 3, start=now - timedelta(hours=3))
    fresh = await add_many(store, 2, start=now - timedelta(minutes=5))
    assert sorted(await store.prune(0, 3600)) == sorted(old)
    assert (await store.page(None, 0, 10)).total == 2
    assert sorted(await store.prune(1, 3600)) == [fresh[0]]
    assert await store.prune(0, 0) == []
    with pytest.raises(BadRequest):
        await store.prune(-1, 0)
