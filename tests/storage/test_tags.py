"""Tags: case-insensitive and idempotent creation, concurrency, replace, rename/merge, delete."""

from __future__ import annotations

import asyncio

import pytest

from mailcapture.errors import BadRequest
from mailcapture.storage.sqlite import SQLiteStore

from .builders import Spec, build


async def tags_of(store: SQLiteStore, id_: str) -> list[str]:
    detail = await store.detail(id_)
    assert detail is not None
    return detail.tags


async def test_tag_names_are_unique_without_regard_to_case(store: SQLiteStore) -> None:
    first = await store.add(build(Spec(tags=["Foo", "bar"])))
    second = await store.add(build(Spec(tags=["FOO", "foo", " Bar ", "new", ""])))
    assert await store.tags() == ["bar", "Foo", "new"]  # first spelling kept, sorted case-insensitively
    assert await tags_of(store, first) == ["bar", "Foo"]
    assert await tags_of(store, second) == ["bar", "Foo", "new"]
    assert (await store.stats()).tags == {"bar": 2, "Foo": 2, "new": 1}


async def test_32_concurrent_deliveries_with_the_same_new_tags_all_succeed(store: SQLiteStore) -> None:
    ids = await asyncio.gather(*(
        store.add(build(Spec(message_id=f"{n}@x", tags=["Release", "CI", f"run-{n % 2}"]))) for n in range(32)
    ))
    assert len(set(ids)) == 32
    assert await store.tags() == ["CI", "Release", "run-0", "run-1"]
    assert (await store.stats()).tags == {"CI": 32, "Release": 32, "run-0": 16, "run-1": 16}


async def test_two_writers_on_one_file_create_the_same_tags_safely(db_path: str) -> None:
    a, b = SQLiteStore(db_path), SQLiteStore(db_path)
    await a.open()
    await b.open()
    try:
        await asyncio.gather(*(
            s.add(build(Spec(message_id=f"{n}@x", tags=["shared", "Shared", "SHARED"])))
            for n in range(16) for s in (a, b)
        ))
        assert await a.tags() == ["shared"]
        assert (await b.stats()).tags == {"shared": 32}
    finally:
        await a.close()
        await b.close()


async def test_set_tags_replaces_and_clears(store: SQLiteStore) -> None:
    one = await store.add(build(Spec(tags=["a", "b"])))
    two = await store.add(build(Spec(tags=["b"])))
    await store.set_tags([one], ["c", "C", "b"])
    assert await tags_of(store, one) == ["b", "c"]
    assert await store.tags() == ["b", "c"]  # "a" is used by no message any more
    await store.set_tags([one, two], [])
    assert await tags_of(store, one) == [] and await tags_of(store, two) == []
    assert await store.tags() == []
    await store.set_tags(["unknown-id"], ["x"])  # nothing to tag: no error, no orphan tag
    assert await store.tags() == []


async def test_rename_tag(store: SQLiteStore) -> None:
    id_ = await store.add(build(Spec(tags=["old"])))
    assert await store.rename_tag("missing", "x") is False
    assert await store.rename_tag("OLD", "new") is True
    assert await tags_of(store, id_) == ["new"]
    assert await store.rename_tag("new", "New") is True  # a change of case only
    assert await store.tags() == ["New"]
    with pytest.raises(BadRequest):
        await store.rename_tag("New", "  ")


async def test_renaming_onto_an_existing_tag_merges(store: SQLiteStore) -> None:
    both = await store.add(build(Spec(tags=["dev", "Staging"])))
    only_dev = await store.add(build(Spec(tags=["dev"])))
    assert await store.rename_tag("dev", "staging") is True
    assert await store.tags() == ["Staging"]
    assert await tags_of(store, both) == ["Staging"]
    assert await tags_of(store, only_dev) == ["Staging"]
    assert (await store.stats()).tags == {"Staging": 2}


async def test_delete_tag_removes_its_links(store: SQLiteStore) -> None:
    id_ = await store.add(build(Spec(tags=["keep", "drop"])))
    assert await store.delete_tag("DROP") is True
    assert await store.delete_tag("drop") is False
    assert await tags_of(store, id_) == ["keep"]
    assert await store.tags() == ["keep"]
