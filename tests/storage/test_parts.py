"""Parts and blobs: decoded from the raw blocks they span, or from the side table."""

from __future__ import annotations

import hashlib
import os

import pytest

from mailcapture.errors import StorageError
from mailcapture.mime.model import KIND_INLINE
from mailcapture.storage.sqlite import SQLiteStore, stream
from mailcapture.storage.sqlite.blocks import BLOCK_SIZE

from .builders import Inspect, Spec, attachment, build



@pytest.mark.parametrize("level", [0, 3])
async def test_parts_decode_from_their_range(db_path: str, level: int) -> None:
    big = os.urandom(BLOCK_SIZE + 200_000)  # base64 of it spans three blocks
    qp = "Grüße, café = 100% ünïcödé\r\n".encode() * 500
    fallback = b"decoded by the fallback parser" * 100
    message = build(Spec(bodies=[
        attachment(big, filename="big.bin"),
        attachment(qp, filename="q.txt", encoding="quoted-printable"),
        attachment(b"raw bytes", filename="r.txt", encoding="8bit", kind=KIND_INLINE),
        attachment(fallback, filename="f.bin", fallback=True),
    ]))
    store = SQLiteStore(db_path, compression=level)
    await store.open()
    try:
        id_ = await store.add(message)
        expected = {"1": b"plain body", "2": big, "3": qp, "4": b"raw bytes", "5": fallback}
        for part_id, payload in expected.items():
            found = await store.part(id_, part_id)
            assert found is not None
            record, data = found
            assert data == payload, part_id
            assert record.size == len(payload) and record.sha256 == hashlib.sha256(payload).hexdigest()
        assert await store.part(id_, "9") is None
        assert await store.part("unknown", "1") is None
        detail = await store.detail(id_)
        assert detail is not None
        assert [p.part_id for p in detail.parts] == ["1", "2", "3", "4", "5"]
        assert [p.filename for p in detail.parts] == ["", "big.bin", "q.txt", "r.txt", "f.bin"]
        assert detail.attachments == 3
    finally:
        await store.close()


async def test_blob_streams_decoded_chunks_block_by_block(store: SQLiteStore) -> None:
    payload = os.urandom(3 * BLOCK_SIZE)  # ~4 MiB of base64
    message = build(Spec(bodies=[attachment(payload, filename="video.mp4")]))
    await store.add(message)
    sha = hashlib.sha256(payload).hexdigest()
    found = await store.blob(sha)
    assert found is not None
    record, chunks = found
    assert record.filename == "video.mp4" and record.size == len(payload)
    received = [chunk async for chunk in chunks]
    assert len(received) >= 4  # many pieces, not one big buffer
    assert max(len(c) for c in received) <= stream.PIECE  # each below glibc's mmap threshold
    assert b"".join(received) == payload
    assert await store.blob("0" * 64) is None


@pytest.mark.parametrize("level", [0, 3])
@pytest.mark.parametrize("hop", [stream.HOP_BYTES, 100_000])
async def test_blob_bytes_equal_the_part_whatever_the_blocks_and_hops(
        db_path: str, monkeypatch: pytest.MonkeyPatch, level: int, hop: int) -> None:
    """Stored (level 0) and zstd blocks; a part starting and ending inside blocks; many hops or one."""
    monkeypatch.setattr(stream, "HOP_BYTES", hop)
    payloads = [os.urandom(2 * BLOCK_SIZE + 12_345), os.urandom(70_000)]
    qp = "Grüße, café = 100% ünïcödé\r\n".encode() * 40_000  # ~1.3 MB, over a block boundary
    store = SQLiteStore(db_path, compression=level)
    await store.open()
    try:
        id_ = await store.add(build(Spec(filler=b"f" * (BLOCK_SIZE // 3), bodies=[
            attachment(payloads[0]), attachment(qp, encoding="quoted-printable"), attachment(payloads[1])])))
        for payload in [*payloads, qp]:
            found = await store.blob(hashlib.sha256(payload).hexdigest())
            assert found is not None
            received = [c async for c in found[1]]
            assert b"".join(received) == payload and max(map(len, received)) <= stream.PIECE
        detail = await store.detail(id_)
        assert detail is not None
        for rec in detail.parts:
            part = await store.part(id_, rec.part_id)
            blob = await store.blob(rec.sha256)
            assert part is not None and blob is not None
            assert b"".join([c async for c in blob[1]]) == part[1]
    finally:
        await store.close()


@pytest.mark.parametrize("level", [0, 1])
async def test_blob_of_a_damaged_block_is_an_error(db_path: str, inspect_db: Inspect, level: int) -> None:
    payload = os.urandom(2 * BLOCK_SIZE)
    store = SQLiteStore(db_path, compression=level)
    await store.open()
    try:
        await store.add(build(Spec(bodies=[attachment(payload)])))
        inspect_db("UPDATE raw_blocks SET data = substr(data, 1, 100) WHERE seq = 1")
        found = await store.blob(hashlib.sha256(payload).hexdigest())
        assert found is not None
        with pytest.raises(StorageError, match="wrong length" if level == 0 else "corrupt|wrong length"):
            async for _ in found[1]:
                pass
    finally:
        await store.close()


async def test_blob_of_a_fallback_part_and_of_a_quoted_printable_part(store: SQLiteStore) -> None:
    data = b"x" * 3_000_000
    qp = "é=\r\n".encode() * 300_000
    await store.add(build(Spec(bodies=[attachment(data, fallback=True),
                                       attachment(qp, encoding="quoted-printable")])))
    for payload in (data, qp):
        found = await store.blob(hashlib.sha256(payload).hexdigest())
        assert found is not None
        assert b"".join([c async for c in found[1]]) == payload


async def test_blob_can_be_abandoned_half_way(store: SQLiteStore) -> None:
    payload = os.urandom(2 * BLOCK_SIZE)
    await store.add(build(Spec(bodies=[attachment(payload)])))
    found = await store.blob(hashlib.sha256(payload).hexdigest())
    assert found is not None
    chunks = found[1]
    first = await anext(chunks)
    assert payload.startswith(first)
    await chunks.aclose()  # type: ignore[attr-defined]
    # the pool is intact: the store still reads
    assert (await store.page(None, 0, 10)).total == 1


async def test_blob_of_a_message_deleted_while_streaming_raises(
        store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "HOP_BYTES", BLOCK_SIZE)  # several reader calls (parts up to 8 MiB take one)
    payload = os.urandom(3 * BLOCK_SIZE)
    id_ = await store.add(build(Spec(bodies=[attachment(payload)])))
    found = await store.blob(hashlib.sha256(payload).hexdigest())
    assert found is not None
    chunks = found[1]
    await anext(chunks)
    await store.delete([id_])
    with pytest.raises(StorageError, match="deleted"):
        async for _ in chunks:
            pass


async def test_decoded_attachments_are_not_stored_twice(store: SQLiteStore, inspect_db: Inspect) -> None:
    await store.add(build(Spec(bodies=[attachment(os.urandom(500_000))])))
    assert inspect_db("SELECT count(*) FROM part_data") == [(0,)]
    assert inspect_db("SELECT start_off > 0, end_off > start_off FROM parts WHERE part_id = '2'") == [(1, 1)]


async def test_part_and_blob_read_only_the_blocks_they_span(store: SQLiteStore, inspect_db: Inspect) -> None:
    payload = os.urandom(100_000)
    message = build(Spec(filler=b"f" * (3 * BLOCK_SIZE), bodies=[attachment(payload)]))
    id_ = await store.add(message)
    assert message.parts[1].start > 3 * BLOCK_SIZE  # the attachment lies in block 3
    inspect_db("UPDATE raw_blocks SET data = x'00' WHERE seq < 3")  # damage every other block
    found = await store.part(id_, "2")
    assert found is not None and found[1] == payload
    blob = await store.blob(hashlib.sha256(payload).hexdigest())
    assert blob is not None and b"".join([c async for c in blob[1]]) == payload
    with pytest.raises(StorageError):
        await store.raw(id_)  # the damage is noticed where it is read, not hidden


async def test_a_small_blob_comes_whole_from_the_lookup_and_a_big_one_streams(store: SQLiteStore) -> None:
    from mailcapture.storage.sqlite import store as store_module

    small, big = os.urandom(1000), os.urandom(store_module.SMALL_BLOB_BYTES)  # big: its base64 is larger
    await store.add(build(Spec(bodies=[attachment(small, filename="s"), attachment(big, filename="b")])))
    for payload, pieces in ((small, 1), (big, 2)):
        found = await store.blob(hashlib.sha256(payload).hexdigest())
        assert found is not None
        received = [c async for c in found[1]]
        assert b"".join(received) == payload and len(received) >= pieces
        assert (len(received) == 1) == (payload is small)
