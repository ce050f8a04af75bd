"""MD5/SHA-1 of big parts are left out at ingest and filled in, once, by the first detail read."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from email.message import EmailMessage
from functools import partial

from mailcapture import ingest
from mailcapture.storage.sqlite import SQLiteStore, checksums


def _raw(*blobs: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "checksums"
    msg.set_content("body")
    for n, blob in enumerate(blobs):
        msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename=f"f{n}.bin")
    return msg.as_bytes()


async def test_first_detail_fills_in_and_saves_the_checksums(
        store: SQLiteStore, inspect_db: Callable[[str, tuple[object, ...]], list[tuple[object, ...]]]) -> None:
    big, small = os.urandom(ingest.LAZY_CHECKSUMS_MIN + 1000), os.urandom(1000)
    message_id = await store.add(ingest.prepare(_raw(big, small), "a@example.com", ["b@example.com"], ""))
    stored = dict((r[0], (r[1], r[2])) for r in inspect_db("SELECT filename, md5, sha1 FROM parts", ()))
    assert stored["f0.bin"] == ("", "")  # not computed at ingest
    assert stored["f1.bin"] == (hashlib.md5(small).hexdigest(), hashlib.sha1(small).hexdigest())

    detail = await store.detail(message_id)
    assert detail is not None
    by_name = {p.filename: p for p in detail.parts}
    for name, blob in (("f0.bin", big), ("f1.bin", small)):
        assert by_name[name].md5 == hashlib.md5(blob).hexdigest()
        assert by_name[name].sha1 == hashlib.sha1(blob).hexdigest()
        assert by_name[name].sha256 == hashlib.sha256(blob).hexdigest()
    stored = dict((r[0], (r[1], r[2])) for r in inspect_db("SELECT filename, md5, sha1 FROM parts", ()))
    assert stored["f0.bin"] == (hashlib.md5(big).hexdigest(), hashlib.sha1(big).hexdigest())  # saved


async def test_saving_for_a_message_deleted_meanwhile_matches_nothing(store: SQLiteStore) -> None:
    message_id = await store.add(ingest.prepare(_raw(os.urandom(ingest.LAZY_CHECKSUMS_MIN)), "a@x", ["b@x"], ""))
    other = await store.add(ingest.prepare(_raw(os.urandom(ingest.LAZY_CHECKSUMS_MIN)), "a@x", ["b@x"], ""))
    detail = await store.detail(message_id)
    assert detail is not None
    await store.delete([message_id])
    computed = [(p.part_id, "0" * 32, "0" * 40) for p in detail.parts]
    await store._write(partial(checksums.save, t=store.tables, id_=message_id, computed=computed))
    other_detail = await store.detail(other)
    assert other_detail is not None and all(p.md5 != "0" * 32 for p in other_detail.parts)
