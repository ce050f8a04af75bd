"""Turning a stored message's big base64 parts into decoded chunks and derived blocks (``decoded.py``).

Runs after the message is committed, one message at a time, off the SMTP path, when no mail has come
for a moment (``store.COMPACT_QUIET_S``). First each big base64 part is checked (:func:`verify_part`):
read back block by block and decoded a chunk at a time, every chunk encoded again and compared with the
bytes received; nothing is written. Then the blocks the regular parts touched are turned into derived
blocks in grid order (:func:`convert`), each batch of about :data:`BATCH_BYTES` written in one short
writer job together with the chunks its blocks refer to: every committed state reads the same bytes, and
the pages the old blocks free are reused for the chunks in the same transaction, so the file never holds
both forms. The last job marks the parts decoded (reads then take their chunks). A part that is not
regular base64 is marked so and never looked at again. A message deleted meanwhile stops the work; one cut
short by a crash is finished by the next sweep (its chunks are written again, the same bytes).

Memory: a block, a chunk and its base64, and one batch: a few MiB, whatever the part's size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite import blocks, decoded, stream
from mailcapture.storage.sqlite.reads import MessageLocation
from mailcapture.storage.sqlite.schema import Tables

BATCH_BYTES = 4 * 1024 * 1024
SWEEP_BATCH = 64  # messages found per sweep query

Borrow = Callable[[], AbstractContextManager[sqlite3.Connection]]

def _candidates() -> str:
    """The condition on ``parts`` of a part never looked at that compaction may keep decoded."""
    return (f"lower(encoding) = 'base64' AND stored = {decoded.ENCODED} AND start_off >= 0 "
            f"AND size >= {int(decoded.MIN_PART)}")


@dataclass(frozen=True, slots=True)
class Candidate:
    part_id: str
    start: int  # its base64 is raw[start:end]
    end: int
    size: int  # decoded bytes


@dataclass(frozen=True, slots=True)
class Plan:
    message: MessageLocation
    candidates: list[Candidate]


def plan(conn: sqlite3.Connection, t: Tables, id_: str) -> Plan | None:
    row = conn.execute(f"SELECT pk, size, block_size FROM {t.messages} WHERE id = ?", (id_,)).fetchone()
    if row is None:
        return None
    found = [Candidate(*r) for r in conn.execute(
        f"SELECT part_id, start_off, end_off, size FROM {t.parts} WHERE message = ? AND {_candidates()} "
        "ORDER BY start_off", (row[0],))]
    return Plan(MessageLocation(*row), found) if found else None


def waiting(conn: sqlite3.Connection, t: Tables, limit: int = SWEEP_BATCH) -> list[str]:
    """Messages with parts never looked at (stored before this feature, or missed while busy)."""
    return [r[0] for r in conn.execute(
        f"SELECT m.id FROM {t.messages} m WHERE m.pk IN (SELECT DISTINCT message FROM {t.parts} WHERE {_candidates()}) "
        "ORDER BY m.pk LIMIT ?", (limit,))]


def verify_part(borrow: Borrow, t: Tables, message: MessageLocation, cand: Candidate) -> decoded.Layout | None:
    """In a worker thread, writing nothing: the part's layout when its base64 is regular, else None.
    Each chunk's worth of lines is decoded and encoded again; every byte must match."""
    layout: decoded.Layout | None = None
    for _, ok in _chunks(borrow, t, message, cand, None):
        if not ok:
            return None
        layout = ok
    return layout


def _chunks(borrow: Borrow, t: Tables, message: MessageLocation, cand: Candidate, layout: decoded.Layout | None
            ) -> Iterator[tuple[bytes, decoded.Layout | None]]:
    """``(decoded chunk, layout)`` in order; the layout is None (and the iteration ends) at the first
    stretch that is not regular. With ``layout`` given (a part verified already), nothing is checked
    but the chunk sizes."""
    encoded = stream.encoded_range(borrow, t, message, cand.start, cand.end, lazy=True)
    total = cand.end - cand.start
    buffer = bytearray()
    if layout is None:
        for piece in encoded:
            buffer += piece
            if len(buffer) >= decoded.MAX_LINE + 2:
                break
        layout = decoded.guess_layout(bytes(buffer[: decoded.MAX_LINE + 2]), total, cand.size)
        check = True
    else:
        check = False
    if layout is None:
        yield b"", None
        return
    full = layout.chunk // layout.per_line * layout.stride  # base64 bytes of one whole chunk
    consumed = 0

    def take(text: bytes, last: bool) -> bytes | None:
        data = decoded.regular_decode(text)
        if check and layout.encode(data, last) != text:
            return None
        if len(data) != (layout.size - consumed // layout.stride * layout.per_line if last else layout.chunk):
            return None
        return data

    while True:
        while consumed + full < total and len(buffer) >= full:  # a whole chunk that is not the last
            data = take(bytes(buffer[:full]), last=False)
            if data is None:
                yield b"", None
                return
            yield data, layout
            del buffer[:full]
            consumed += full
        more = next(encoded, None)
        if more is None:
            break
        buffer += more
    data = take(bytes(buffer), last=True) if consumed + len(buffer) == total and buffer else None
    yield (b"", None) if data is None else (data, layout)


class Gone(Exception):
    """The message was deleted while its parts were being decoded."""


Batch = tuple[list[tuple[int, bytes]], list[tuple[str, int, int, bytes | memoryview]]]  # blocks, chunks


def convert(borrow: Borrow, t: Tables, message: MessageLocation, done: list[tuple[Candidate, decoded.Layout]],
            level: int, write: Callable[[Batch], bool]) -> None:
    """In a worker thread: turn the blocks the verified parts' base64 touched into derived blocks, in grid
    order, writing with them the chunks they refer to. Each batch commits blocks and their chunks together,
    so every committed state reads the same bytes, and the blocks' pages freed in a transaction take that
    transaction's chunks (the file does not grow by a second copy). Raises Gone when the message was deleted."""
    makers = {cand.part_id: _made(borrow, t, message, cand, layout, level) for cand, layout in done}
    written = {cand.part_id: 0 for cand, _ in done}  # chunks put in a batch so far
    blocks_out: list[tuple[int, bytes]] = []
    chunks_out: list[tuple[str, int, int, bytes | memoryview]] = []
    size = 0

    def need(part_id: str, upto: int) -> None:
        nonlocal size
        while written[part_id] <= upto:
            flag, payload = next(makers[part_id])
            chunks_out.append((part_id, written[part_id], flag, payload))
            written[part_id] += 1
            size += len(payload)

    def flush() -> None:
        nonlocal blocks_out, chunks_out, size
        if (blocks_out or chunks_out) and not write((blocks_out, chunks_out)):
            raise Gone
        blocks_out, chunks_out, size = [], [], 0

    seqs = sorted({seq for cand, _ in done for seq in blocks.block_span(message.block_size, cand.start, cand.end)})
    for seq in seqs:
        base = seq * message.block_size
        length = min(message.block_size, message.size - base)
        with borrow() as conn:
            row = conn.execute(f"SELECT compressed, data FROM {t.blocks} WHERE message = ? AND seq = ?",
                               (message.pk, seq)).fetchone()
            if row is None:
                raise Gone
            segments = _segments(conn, t, message.pk, row[0], row[1], length)
        refs = [(max(cand.start, base) - base, min(cand.end, base + length) - base, cand, layout)
                for cand, layout in done if cand.start < base + length and cand.end > base]
        new = _overlay(segments, refs, base, level)
        for seg in new:
            if isinstance(seg, decoded.Reference):
                last_line = (seg.offset + seg.length - 1) // seg.layout.stride
                need(seg.part_id, (min((last_line + 1) * seg.layout.per_line, seg.layout.size) - 1) // seg.chunk)
        blocks_out.append((seq, decoded.pack(new)))
        size += len(blocks_out[-1][1])
        if size >= BATCH_BYTES:
            flush()
    for cand, layout in done:  # the rest (normally nothing: every chunk is referred to by some block)
        need(cand.part_id, (layout.size - 1) // layout.chunk)
    flush()


def _made(borrow: Borrow, t: Tables, message: MessageLocation, cand: Candidate, layout: decoded.Layout,
          level: int) -> Iterator[tuple[int, bytes | memoryview]]:
    for data, ok in _chunks(borrow, t, message, cand, layout):
        if ok is None:
            raise StorageError(f"part {cand.part_id} changed between its check and its conversion")
        yield blocks.compress(data, level, decoded.MIN_SAVING)


def _segments(conn: sqlite3.Connection, t: Tables, pk: int, flag: int, payload: bytes,
              length: int) -> list[decoded.Segment]:
    """A block as segments, literals decompressed (a block not yet derived is one literal)."""
    if flag != blocks.DERIVED:
        data = blocks.decompress(flag, payload)
        if len(data) != length:
            raise StorageError(f"a raw block has a wrong length ({len(data)} bytes, expected {length})")
        return [decoded.Literal(length, blocks.STORED, data)]
    return [decoded.Literal(s.length, blocks.STORED, blocks.decompress(s.flag, bytes(s.payload)))
            if isinstance(s, decoded.Literal) else s for s in decoded.unpack(payload)]


def _overlay(segments: list[decoded.Segment], refs: list[tuple[int, int, Candidate, decoded.Layout]], base: int,
             level: int) -> list[decoded.Segment]:
    """``segments`` with what ``refs`` cover (offsets within the block) replaced by references, wherever it
    lies in a literal (a range already referred to stays as it is)."""
    out: list[decoded.Segment] = []
    pos = 0
    ordered = sorted(refs, key=lambda r: r[0])
    for seg in segments:
        if isinstance(seg, decoded.Reference):
            out.append(seg)
            pos += seg.length
            continue
        data = memoryview(seg.payload)
        at = 0  # within this literal
        for lo, hi, cand, layout in ordered:
            lo, hi = max(lo, pos + at), min(hi, pos + seg.length)
            if lo >= hi:
                continue
            if lo - pos > at:
                out.append(_literal(data[at : lo - pos], level))
            out.append(decoded.Reference(cand.part_id, base + lo - cand.start, hi - lo, layout, layout.chunk))
            at = hi - pos
        if at < seg.length:
            out.append(_literal(data[at:], level))
        pos += seg.length
    return out


def _literal(data: memoryview, level: int) -> decoded.Literal:
    flag, payload = blocks.compress(bytes(data), level)
    return decoded.Literal(len(data), flag, bytes(payload))


# ---------------------------------------------------------------- writer jobs


def write_batch(conn: sqlite3.Connection, t: Tables, pk: int, batch: Batch) -> bool:
    """Derived blocks and the chunks they refer to; False (nothing written) when the message is gone. The
    blocks go first: the pages they free are reused for the chunks within this transaction."""
    if conn.execute(f"SELECT 1 FROM {t.messages} WHERE pk = ?", (pk,)).fetchone() is None:
        return False
    derived, chunks = batch
    conn.executemany(f"UPDATE {t.blocks} SET compressed = ?, data = ? WHERE message = ? AND seq = ?",
                     ((blocks.DERIVED, payload, pk, seq) for seq, payload in derived))
    conn.executemany(  # REPLACE: a compaction cut short and done again writes the same chunks
        f"INSERT OR REPLACE INTO {t.part_chunks} (message, part_id, seq, compressed, data) VALUES (?, ?, ?, ?, ?)",
        ((pk, part_id, seq, flag, payload) for part_id, seq, flag, payload in chunks),
    )
    return True


def finish(conn: sqlite3.Connection, t: Tables, pk: int, decoded_parts: list[str], irregular: list[str]) -> None:
    """The last job: the parts are marked; from now on they are read from their chunks."""
    conn.executemany(f"UPDATE {t.parts} SET stored = ? WHERE message = ? AND part_id = ?",
                     [(decoded.DECODED, pk, p) for p in decoded_parts] +
                     [(decoded.IRREGULAR, pk, p) for p in irregular])


def give_up(conn: sqlite3.Connection, t: Tables, id_: str) -> None:
    """After an unexpected failure: the message's parts not yet looked at stay encoded, for good."""
    row = conn.execute(f"SELECT pk FROM {t.messages} WHERE id = ?", (id_,)).fetchone()
    if row is None:
        return
    parts = [r[0] for r in conn.execute(f"SELECT part_id FROM {t.parts} WHERE message = ? AND {_candidates()}", row)]
    finish(conn, t, row[0], [], parts)


def delete_orphan_chunks(conn: sqlite3.Connection, t: Tables) -> int:
    """Chunks whose message is gone (the trigger deletes them with it; this is only a safety net). Chunks of a
    part not yet marked decoded stay: derived blocks may refer to them, and the next sweep finishes the part."""
    return conn.execute(
        f"DELETE FROM {t.part_chunks} WHERE message NOT IN (SELECT pk FROM {t.messages})"
    ).rowcount
