"""Big base64 parts kept decoded (decoded.py, compaction.py): the raw message stays exact, parts read the same."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import random
import sqlite3
from pathlib import Path

import pytest

from mailcapture.storage.base import NewMessage
from mailcapture.storage.sqlite import SQLiteStore, compaction, decoded, direct
from mailcapture.storage.sqlite import store as store_module
from mailcapture.storage.sqlite.decoded import DECODED, DERIVED, ENCODED, IRREGULAR

from .builders import Body, Inspect, Spec, attachment, build

BLOCK = 64 * 1024  # small blocks: every part spans several, some share one


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "COMPACT_QUIET_S", 0.0)
    monkeypatch.setattr(decoded, "CHUNK", 50_000)  # several chunks per part
    monkeypatch.setattr(decoded, "MIN_PART", 10_000)


def _lines(data: bytes, width: int, eol: bytes, trailing: bool = True) -> bytes:
    text = base64.b64encode(data)
    out = eol.join(text[i : i + width] for i in range(0, len(text), width))
    return out + eol if trailing else out


def _bodies() -> list[Body]:
    rnd = random.Random(7)
    def blob(n: int) -> bytes:
        return rnd.randbytes(n)
    text = b"".join(b"line %d of a long text attachment that compresses well\r\n" % i for i in range(4000))
    irregular = blob(30_000)
    ragged = base64.b64encode(irregular)
    ragged = ragged[:100] + b"\r\n" + b"\r\n".join(ragged[i : i + 76] for i in range(100, len(ragged), 76)) + b"\r\n"
    lf = blob(80_000)
    one_line = blob(40_000)
    no_trailing = blob(120_001)
    return [
        attachment(blob(200_000), filename="crlf.bin"),  # 76 + CRLF, like every mail program
        Body(lf, filename="lf.bin", encoded=_lines(lf, 64, b"\n")),
        Body(one_line, filename="one.bin", encoded=base64.b64encode(one_line)),
        Body(no_trailing, filename="nt.bin", encoded=_lines(no_trailing, 76, b"\r\n", trailing=False)),
        Body(text, filename="t.txt", encoded=_lines(text, 76, b"\r\n")),
        Body(irregular, filename="ragged.bin", encoded=ragged),
        attachment(blob(5_000), filename="small.bin"),
        attachment(blob(30_000), filename="q.bin", encoding="quoted-printable"),
    ]


async def _add_as_received(db_path: str, message: NewMessage, level: int = 1) -> str:
    """Store ``message`` with compaction off (as a version before schema 3 did); returns its id."""
    store = SQLiteStore(db_path, compression=level, block_size=BLOCK, decode_parts=False)
    await store.open()
    try:
        return await store.add(message)
    finally:
        await store.close()


async def _check_reads(store: SQLiteStore, id_: str, message_raw: bytes, bodies: list[Body]) -> None:
    assert await store.raw(id_) == message_raw
    rnd = random.Random(3)
    for _ in range(40):
        start = rnd.randrange(len(message_raw))
        end = rnd.randrange(start, len(message_raw) + 1)
        assert await store.raw_range(id_, start, end) == message_raw[start:end]
    for index, body in enumerate(bodies, start=2):
        found = await store.part(id_, str(index))
        assert found is not None and found[1] == body.payload, body.filename
        blob = await store.blob(hashlib.sha256(body.payload).hexdigest())
        assert blob is not None
        assert b"".join([bytes(c) async for c in blob[1]]) == body.payload, body.filename


@pytest.mark.parametrize("level", [0, 1])
async def test_regular_base64_parts_are_kept_decoded_and_the_message_stays_exact(
        db_path: str, inspect_db: Inspect, level: int) -> None:
    bodies = _bodies()
    message = build(Spec(bodies=bodies))
    store = SQLiteStore(db_path, compression=level, block_size=BLOCK)
    await store.open()
    try:
        id_ = await store.add(message)
        await _check_reads(store, id_, message.raw, bodies)  # maybe before, maybe during compaction
        await store.settle()
        stored = dict(inspect_db("SELECT filename, stored FROM parts"))
        assert stored == {"": ENCODED, "crlf.bin": DECODED, "lf.bin": DECODED, "one.bin": DECODED,
                          "nt.bin": DECODED, "t.txt": DECODED, "ragged.bin": IRREGULAR,
                          "small.bin": ENCODED, "q.bin": ENCODED}
        flags = [r[0] for r in inspect_db("SELECT compressed FROM raw_blocks ORDER BY seq")]
        assert DERIVED in flags
        if level:  # the text attachment's chunks compress, random bytes are stored as they are
            assert {r[0] for r in inspect_db("SELECT compressed FROM part_chunks WHERE part_id = '6'")} == {1}
            assert {r[0] for r in inspect_db("SELECT compressed FROM part_chunks WHERE part_id = '2'")} == {0}
        await _check_reads(store, id_, message.raw, bodies)
    finally:
        await store.close()
    # and again from a fresh process's point of view
    store = SQLiteStore(db_path, compression=level, block_size=BLOCK)
    await store.open()
    try:
        await _check_reads(store, id_, message.raw, bodies)
    finally:
        await store.close()


async def test_at_level_0_the_data_is_stored_once(db_path: str, inspect_db: Inspect) -> None:
    payload = os.urandom(600_000)
    message = build(Spec(bodies=[attachment(payload)]))
    store = SQLiteStore(db_path, compression=0, block_size=BLOCK)
    await store.open()
    try:
        await store.add(message)
        await store.settle()
    finally:
        await store.close()
    blocks = inspect_db("SELECT coalesce(sum(length(data)), 0) FROM raw_blocks")[0][0]
    chunks = inspect_db("SELECT coalesce(sum(length(data)), 0) FROM part_chunks")[0][0]
    assert chunks == len(payload)
    assert blocks + chunks < 0.8 * len(message.raw)  # the decoded bytes are 3/4 of their base64


async def test_a_read_that_started_before_compaction_gets_the_same_bytes(db_path: str) -> None:
    payload = os.urandom(400_000)
    await _add_as_received(db_path, build(Spec(bodies=[attachment(payload)])))
    reader = direct.DirectReader(db_path, "")
    try:
        found = reader.locate(hashlib.sha256(payload).hexdigest())
        assert found is not None and not found[1].in_chunks
        pieces = reader.pieces(found[1])
        first = next(pieces)
        store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
        await store.open()  # its first sweep finds the message stored before
        try:
            await store.settle()
        finally:
            await store.close()
        assert first + b"".join(pieces) == payload  # the rest came from derived blocks
        span = reader.locate(hashlib.sha256(payload).hexdigest())
        assert span is not None and span[1].in_chunks
    finally:
        reader.close()


async def test_a_message_deleted_meanwhile_leaves_no_chunks(db_path: str, inspect_db: Inspect) -> None:
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        ids = [await store.add(build(Spec(message_id=f"{n}@x", bodies=[attachment(os.urandom(300_000))])))
               for n in range(4)]
        await store.delete(ids[1:3])
        await store.settle()
        assert inspect_db("SELECT DISTINCT message FROM part_chunks ORDER BY message") == [(1,), (4,)]
        await store.delete(None)
        assert inspect_db("SELECT count(*) FROM part_chunks") == [(0,)]
    finally:
        await store.close()


async def test_chunks_of_a_message_that_is_gone_are_deleted_on_open(db_path: str, inspect_db: Inspect) -> None:
    await _add_as_received(db_path, build(Spec(bodies=[attachment(os.urandom(100_000))])))
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO part_chunks VALUES (99, '2', 0, 0, x'00')")
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK, decode_parts=False)
    await store.open()
    await store.close()
    assert inspect_db("SELECT count(*) FROM part_chunks") == [(0,)]


async def test_a_compaction_cut_short_is_finished_by_the_next_sweep(db_path: str, inspect_db: Inspect,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    payload = os.urandom(300_000)
    message = build(Spec(bodies=[attachment(payload)]))
    monkeypatch.setattr(compaction, "BATCH_BYTES", 1)  # a batch per block
    monkeypatch.setattr(compaction, "finish", lambda *args, **kwargs: None)  # "crash" before the last job
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        id_ = await store.add(message)
        await store.settle()
    finally:
        await store.close()
    assert inspect_db("SELECT stored FROM parts WHERE part_id = '2'") == [(ENCODED,)]
    chunks = inspect_db("SELECT count(*) FROM part_chunks")[0][0]
    assert chunks > 1 and DERIVED in [r[0] for r in inspect_db("SELECT compressed FROM raw_blocks")]
    monkeypatch.undo()
    monkeypatch.setattr(store_module, "COMPACT_QUIET_S", 0.0)
    monkeypatch.setattr(decoded, "CHUNK", 50_000)
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        assert await store.raw(id_) == message.raw  # half converted: still exact
        await store.settle()
        assert inspect_db("SELECT stored FROM parts WHERE part_id = '2'") == [(DECODED,)]
        assert inspect_db("SELECT count(*) FROM part_chunks")[0][0] == chunks
        assert await store.raw(id_) == message.raw
        found = await store.part(id_, "2")
        assert found is not None and found[1] == payload
    finally:
        await store.close()


async def test_the_file_never_holds_both_forms(db_path: str, inspect_db: Inspect) -> None:
    """The pages the base64 blocks free are reused for the chunks in the same transaction."""
    id_ = await _add_as_received(db_path, build(Spec(bodies=[attachment(os.urandom(2_000_000))])), level=0)
    before = os.path.getsize(db_path)
    store = SQLiteStore(db_path, compression=0, block_size=BLOCK)
    await store.open()
    try:
        await store.settle()
        assert inspect_db("SELECT stored FROM parts WHERE part_id = '2'") == [(DECODED,)]
        pages = inspect_db("PRAGMA page_count")[0][0] * inspect_db("PRAGMA page_size")[0][0]
        free = inspect_db("PRAGMA freelist_count")[0][0] * inspect_db("PRAGMA page_size")[0][0]
        assert pages <= before * 1.02, (pages, before)
        assert pages - free < 0.8 * before  # what is in use: the decoded bytes, 3/4 of their base64
        assert await store.raw(id_) is not None
    finally:
        await store.close()


def test_layouts_are_guessed_only_for_regular_base64() -> None:
    data = os.urandom(1000)
    crlf = _lines(data, 76, b"\r\n")
    assert decoded.guess_layout(crlf[:1002], len(crlf), len(data)) == decoded.Layout(76, b"\r\n", True, 1000)
    assert decoded.guess_layout(crlf[:1002], len(crlf) - 2, len(data)) == decoded.Layout(76, b"\r\n", False, 1000)
    assert decoded.guess_layout(crlf[:1002], len(crlf) + 1, len(data)) is None  # sizes do not match
    odd = _lines(data, 75, b"\n")
    assert decoded.guess_layout(odd[:1002], len(odd), len(data)) is None  # not whole quanta per line


def test_a_damaged_derived_block_is_a_storage_error() -> None:
    from mailcapture.errors import StorageError
    with pytest.raises(StorageError):
        decoded.unpack(b"\x05\x00\x00\x00[{}]")
    with pytest.raises(StorageError):
        decoded.unpack(b"\x02\x00\x00\x00[]extra")




async def test_compaction_waits_for_a_quiet_moment(db_path: str, inspect_db: Inspect,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    monkeypatch.setattr(store_module, "COMPACT_QUIET_S", 0.4)
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        for n in range(3):
            await store.add(build(Spec(message_id=f"{n}@x", bodies=[attachment(os.urandom(100_000))])))
            await asyncio.sleep(0.15)
            assert inspect_db("SELECT count(*) FROM part_chunks") == [(0,)]  # still receiving
        await store.settle()
        assert inspect_db("SELECT count(*) FROM parts WHERE stored = 1") == [(3,)]
    finally:
        await store.close()


async def test_a_compaction_that_fails_leaves_the_message_readable_and_is_not_retried(
        db_path: str, inspect_db: Inspect, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(compaction, "convert", broken)
    payload = os.urandom(100_000)
    message = build(Spec(bodies=[attachment(payload)]))
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        id_ = await store.add(message)
        await store.settle()
        assert inspect_db("SELECT stored FROM parts WHERE part_id = '2'") == [(IRREGULAR,)]
        assert inspect_db("SELECT count(*) FROM part_chunks") == [(0,)]
        assert await store.raw(id_) == message.raw
        found = await store.part(id_, "2")
        assert found is not None and found[1] == payload
    finally:
        await store.close()


async def test_the_direct_reader_reads_chunks_in_pieces_heads_and_damage(db_path: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from mailcapture.errors import StorageError
    monkeypatch.setattr(direct, "FIRST_PIECE", 10_000)  # smaller than a chunk here
    monkeypatch.setattr(direct, "CHUNK_PIECE", 20_000)
    payload = os.urandom(130_000)
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        await store.add(build(Spec(bodies=[attachment(payload)])))
        await store.settle()
    finally:
        await store.close()
    reader = direct.DirectReader(db_path, "")
    try:
        found = reader.locate(hashlib.sha256(payload).hexdigest())
        assert found is not None
        span = found[1]
        assert span.in_chunks and direct.Span.from_dict(span.to_dict()) == span
        assert set(span.to_dict()) == {f.name for f in dataclasses.fields(direct.Span)}
        assert b"".join(reader.pieces(span)) == payload
        early = list(reader.pieces(span, early=True))
        assert len(early[0]) == direct.FIRST_PIECE and b"".join(early) == payload
        assert max(len(p) for p in early) == direct.CHUNK_PIECE
        assert reader.head(span, 10) == payload[:10]
        assert reader.head(span, 10**6) == payload  # more than there is: all of it
        longer = dataclasses.replace(span, size=span.size - 5)  # the part holds more than recorded
        with pytest.raises(StorageError, match="recorded"):
            b"".join(reader.pieces(longer))
        gone = dataclasses.replace(span, pk=999)
        with pytest.raises(StorageError, match="deleted"):
            b"".join(reader.pieces(gone, early=True))
    finally:
        reader.close()


@pytest.mark.parametrize("seed", range(6))
async def test_random_messages_stay_exact(tmp_path: Path, seed: int) -> None:
    """Random layouts, sizes, offsets and block sizes: whatever compaction does, every read is unchanged."""
    rnd = random.Random(seed)
    bodies: list[Body] = []
    damaged = 0
    for _ in range(rnd.randint(1, 4)):
        payload = rnd.randbytes(rnd.choice([10_000, 10_001, 57 * 1000, rnd.randint(10_000, 260_000)]))
        width = rnd.choice([4, 64, 72, 76, 76, 76, 100, 996])
        eol = rnd.choice([b"\r\n", b"\r\n", b"\n"])
        text = _lines(payload, width, eol, trailing=rnd.random() < 0.8)
        if rnd.random() < 0.15:  # damage the regularity somewhere: it must stay as received
            cut = rnd.randrange(len(text) // 2, len(text))
            text = text[:cut] + b" " + text[cut:]
            damaged += 1
        bodies.append(Body(payload, filename=f"p{len(bodies)}.bin", encoded=text))
    message = build(Spec(bodies=bodies, filler=rnd.randbytes(rnd.randint(0, 3000)).replace(b"-", b"_")))
    store = SQLiteStore(str(tmp_path / "r.db"), compression=rnd.choice([0, 1]), block_size=rnd.choice([4096, 50_000, BLOCK]))
    await store.open()
    try:
        id_ = await store.add(message)
        await store.settle()
        await _check_reads(store, id_, message.raw, bodies)
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "r.db") as conn:
        stored = [r[0] for r in conn.execute("SELECT stored FROM parts WHERE part_id != '1'")]
    assert sorted(stored) == [DECODED] * (len(bodies) - damaged) + [IRREGULAR] * damaged


async def test_messages_that_found_the_backlog_full_are_found_by_a_sweep(
        db_path: str, inspect_db: Inspect, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "COMPACT_BACKLOG", 1)
    monkeypatch.setattr(store_module, "COMPACT_QUIET_S", 0.3)  # the first waits while the others arrive
    store = SQLiteStore(db_path, compression=1, block_size=BLOCK)
    await store.open()
    try:
        await store.settle()  # the sweep at open
        for n in range(4):
            await store.add(build(Spec(message_id=f"{n}@x", bodies=[attachment(os.urandom(50_000))])))
        await store.settle()
        assert inspect_db("SELECT count(*) FROM parts WHERE stored = 1") == [(4,)]
    finally:
        await store.close()
