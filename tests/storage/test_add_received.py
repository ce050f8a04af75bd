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
