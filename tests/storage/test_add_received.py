"""add_received: compression overlaps the build; failures store nothing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from mailcapture import ingest
from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import SQLiteStore


def _raw() -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "overlap"
    msg.set_content("body")
    msg.add_attachment(os.urandom(3 * 1024 * 1024), maintype="application", subtype="octet-stream",
                       filename="r.bin")
    return msg.as_bytes()


@pytest.mark.parametrize("level", [0, 1, 3])
async def test_add_received_round_trips(tmp_path: Path, level: int) -> None:
    store = SQLiteStore(str(tmp_path / "m.db"), compression=level)
    await store.open()
    try:
        raw = _raw()
        build = asyncio.get_running_loop().run_in_executor(None, ingest.prepare, raw, "a@example.com",
                                                           ["b@example.com"], "")
        msg_id = await store.add_received(raw, build)
        assert await store.raw(msg_id) == raw
        detail = await store.detail(msg_id)
        assert detail is not None and detail.subject == "overlap"
        att = next(p for p in detail.parts if p.filename == "r.bin")
        found = await store.part(msg_id, att.part_id)
        assert found is not None and len(found[1]) == 3 * 1024 * 1024
    finally:
        await store.close()


async def test_a_failing_build_stores_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        async def broken() -> ingest.NewMessage:
            raise RuntimeError("parse exploded")

        with pytest.raises(RuntimeError):
            await store.add_received(_raw(), broken())
        other = ingest.prepare(_raw(), "a@example.com", [], "")
        with pytest.raises(StorageError):
            await store.add_received(_raw(), asyncio.sleep(0, other))  # built from other bytes
        assert (await store.page(None, 0, 10)).total == 0
    finally:
        await store.close()


async def test_a_slow_parse_rolls_back_and_is_inserted_the_plain_way(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from mailcapture.storage.sqlite import intake as intake_module

    monkeypatch.setattr(intake_module, "WRITER_WAIT_S", 0.05)
    store = SQLiteStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        raw = _raw()

        async def slow() -> ingest.NewMessage:
            await asyncio.sleep(0.3)  # longer than the writer may wait with its transaction open
            return ingest.prepare(raw, "a@example.com", [], "")

        writes_meanwhile = asyncio.ensure_future(_tag_soon(store))
        msg_id = await store.add_received(raw, slow())
        await writes_meanwhile  # another write was not stuck behind the slow parse
        assert await store.raw(msg_id) == raw
        assert (await store.page(None, 0, 10)).total == 1
    finally:
        await store.close()


async def _tag_soon(store: SQLiteStore) -> None:
    await asyncio.sleep(0.1)
    async with asyncio.timeout(0.25):
        await store.set_tags([], ["x"])


async def test_message_pks_never_collide_between_the_two_insert_paths(tmp_path: Path) -> None:
    """Blocks go in under a pk chosen before the row exists; plain inserts take AUTOINCREMENT's next."""
    store = SQLiteStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        raws = [_raw() for _ in range(6)]
        ids = []
        for n, raw in enumerate(raws):
            message = ingest.prepare(raw, "a@example.com", [], "")
            if n % 2:
                ids.append(await store.add(message))
            else:
                ids.append(await store.add_received(raw, asyncio.sleep(0, message)))
            if n == 3:
                await store.delete(ids[1:3])  # freed pks are never reused
        for msg_id, raw in zip(ids, raws):
            if msg_id not in ids[1:3]:
                assert await store.raw(msg_id) == raw
        assert (await store.page(None, 0, 10)).total == 4
    finally:
        await store.close()
