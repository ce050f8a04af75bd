"""Turning a stored message's big base64 parts into decoded chunks and derived blocks (``decoded.py``).

Runs after the message is committed, one message at a time, off the SMTP path: a part is read back
block by block, decoded a chunk at a time, and each chunk kept only if encoding it again gives exactly
the bytes received. Chunks go to the writer in batches of about :data:`BATCH_BYTES` (short jobs between
the SMTP commits); they are invisible until the last job, which in one transaction turns the raw blocks
the parts covered into derived blocks and marks the parts decoded. A part that is not regular base64 is
marked so and never looked at again. A message deleted meanwhile stops the work; chunks left by a crash
(their part not marked decoded) are deleted when the store opens.

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
Chunk = tuple[int, bytes | memoryview]  # (compressed flag, payload)
WriteBatch = Callable[[str, int, list[Chunk]], bool]  # (part_id, first seq, chunks) -> False: message gone

_CANDIDATES = ("lower(encoding) = 'base64' AND stored = {encoded} AND start_off >= 0 AND size >= {min_part}"
               .format(encoded=decoded.ENCODED, min_part=decoded.MIN_PART))


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
        f"SELECT part_id, start_off, end_off, size FROM {t.parts} WHERE message = ? AND {_CANDIDATES} "
        "ORDER BY start_off", (row[0],))]
    return Plan(MessageLocation(*row), found) if found else None


def waiting(conn: sqlite3.Connection, t: Tables, limit: int = SWEEP_BATCH) -> list[str]:
    """Messages with parts never looked at (stored before this feature, or missed while busy)."""
    return [r[0] for r in conn.execute(
        f"SELECT m.id FROM {t.messages} m WHERE m.pk IN (SELECT DISTINCT message FROM {t.parts} WHERE {_CANDIDATES}) "
        "ORDER BY m.pk LIMIT ?", (limit,))]


def decode_part(borrow: Borrow, t: Tables, message: MessageLocation, cand: Candidate, level: int,
                write: WriteBatch) -> decoded.Layout | None:
    """In a worker thread: check the part's base64 and write its chunks. None when it is not regular
    (some chunks may be written: the last job deletes them); raises _Gone when the message was deleted."""
    encoded: Iterator[bytes | memoryview] = stream.encoded_range(borrow, t, message, cand.start, cand.end, lazy=True)
    total = cand.end - cand.start
    buffer = bytearray()
    for piece in encoded:
        buffer += piece
        if len(buffer) >= decoded.MAX_LINE + 2:
            break
    layout = decoded.guess_layout(bytes(buffer[: decoded.MAX_LINE + 2]), total, cand.size)
    if layout is None:
        return None
    full = layout.chunk // layout.per_line * layout.stride  # base64 bytes of one whole chunk
    consumed = 0  # base64 bytes checked so far
    seq = 0
    batch: list[Chunk] = []
    batch_bytes = 0

    def flush() -> None:
        nonlocal batch, batch_bytes
        if batch and not write(cand.part_id, seq - len(batch), batch):
            raise Gone
        batch, batch_bytes = [], 0

    def take(text: bytes | bytearray, last: bool) -> bool:
        nonlocal seq, batch_bytes
        data = decoded.regular_decode(text)
        if layout.encode(data, last) != text:
            return False
        flag, payload = blocks.compress(data, level, decoded.MIN_SAVING)
        batch.append((flag, payload))
        batch_bytes += len(payload)
        seq += 1
        if batch_bytes >= BATCH_BYTES:
            flush()
        return True

    pieces = iter(encoded)
    while True:
        while consumed + full < total and len(buffer) >= full:  # a whole chunk that is not the last
            if not take(bytes(buffer[:full]), last=False):
                return None
            del buffer[:full]
            consumed += full
        piece = next(pieces, None)
        if piece is None:
            break
        buffer += piece
    if consumed + len(buffer) != total or not buffer or not take(bytes(buffer), last=True):
        return None
    flush()
    return layout


class Gone(Exception):
    """The message was deleted while its parts were being decoded."""


def derive_blocks(borrow: Borrow, t: Tables, message: MessageLocation,
                  done: list[tuple[Candidate, decoded.Layout]], level: int) -> list[tuple[int, bytes]]:
    """In a worker thread: the new payload of every raw block the decoded parts' base64 touched."""
    seqs = sorted({seq for cand, _ in done for seq in blocks.block_span(message.block_size, cand.start, cand.end)})
    out: list[tuple[int, bytes]] = []
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
        out.append((seq, decoded.pack(_overlay(segments, refs, base, level))))
    return out


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
    """``segments`` with the ranges ``refs`` cover (always inside literals) replaced by references."""
    out: list[decoded.Segment] = []
    pos = 0
    for seg in segments:
        if isinstance(seg, decoded.Reference):
            out.append(seg)
            pos += seg.length
            continue
        data = memoryview(seg.payload)
        at = 0  # within this literal
        for lo, hi, cand, layout in sorted(refs, key=lambda r: r[0]):
            if lo >= pos + seg.length or hi <= pos:
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


def insert_chunks(conn: sqlite3.Connection, t: Tables, pk: int, part_id: str, first: int,
                  chunks: list[Chunk]) -> bool:
    """False (nothing written) when the message is gone; the first batch clears an earlier attempt's chunks."""
    if conn.execute(f"SELECT 1 FROM {t.messages} WHERE pk = ?", (pk,)).fetchone() is None:
        return False
    if first == 0:
        conn.execute(f"DELETE FROM {t.part_chunks} WHERE message = ? AND part_id = ?", (pk, part_id))
    conn.executemany(
        f"INSERT INTO {t.part_chunks} (message, part_id, seq, compressed, data) VALUES (?, ?, ?, ?, ?)",
        ((pk, part_id, first + i, flag, payload) for i, (flag, payload) in enumerate(chunks)),
    )
    return True


def switch(conn: sqlite3.Connection, t: Tables, pk: int, decoded_parts: list[str], irregular: list[str],
           derived: list[tuple[int, bytes]]) -> bool:
    """The last job: derived blocks in, parts marked. False when the message is gone."""
    if conn.execute(f"SELECT 1 FROM {t.messages} WHERE pk = ?", (pk,)).fetchone() is None:
        return False
    conn.executemany(f"UPDATE {t.blocks} SET compressed = ?, data = ? WHERE message = ? AND seq = ?",
                     ((blocks.DERIVED, payload, pk, seq) for seq, payload in derived))
    conn.executemany(f"UPDATE {t.parts} SET stored = ? WHERE message = ? AND part_id = ?",
                     [(decoded.DECODED, pk, p) for p in decoded_parts] +
                     [(decoded.IRREGULAR, pk, p) for p in irregular])
    conn.executemany(f"DELETE FROM {t.part_chunks} WHERE message = ? AND part_id = ?", ((pk, p) for p in irregular))
    return True


def give_up(conn: sqlite3.Connection, t: Tables, id_: str) -> None:
    """After an unexpected failure: the message's parts not yet looked at stay encoded, for good."""
    row = conn.execute(f"SELECT pk FROM {t.messages} WHERE id = ?", (id_,)).fetchone()
    if row is None:
        return
    parts = [r[0] for r in conn.execute(f"SELECT part_id FROM {t.parts} WHERE message = ? AND {_CANDIDATES}", row)]
    switch(conn, t, row[0], [], parts, [])


def delete_orphan_chunks(conn: sqlite3.Connection, t: Tables) -> int:
    """Chunks of parts not marked decoded: a compaction that stopped midway (only when none runs)."""
    return conn.execute(
        f"DELETE FROM {t.part_chunks} WHERE NOT EXISTS (SELECT 1 FROM {t.parts} p WHERE p.message = "
        f"{t.part_chunks}.message AND p.part_id = {t.part_chunks}.part_id AND p.stored = {decoded.DECODED})"
    ).rowcount
