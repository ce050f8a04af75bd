"""Read queries. Each runs in a reader thread, inside one read transaction (a consistent snapshot)."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mailcapture.storage.base import MessageDetail, MessageSummary, Page, PartRecord
from mailcapture.storage.sqlite import rows
from mailcapture.storage.sqlite.decoded import DECODED
from mailcapture.storage.sqlite.schema import Tables

ORDER_NEWEST = "ORDER BY m.created DESC, m.pk DESC"


@dataclass(frozen=True, slots=True)
class MessageLocation:
    pk: int
    size: int
    block_size: int


@dataclass(frozen=True, slots=True)
class PartLocation:
    record: PartRecord
    message: MessageLocation
    encoding: str
    start: int  # -1 when the decoded bytes are in part_data
    end: int
    stored: int = 0  # decoded.ENCODED, DECODED (bytes in part_chunks) or IRREGULAR

    @property
    def in_side_table(self) -> bool:
        return self.start < 0

    @property
    def in_chunks(self) -> bool:
        return self.stored == DECODED


def counters(conn: sqlite3.Connection, t: Tables) -> tuple[int, int]:
    total, unread = conn.execute(f"SELECT total, unread FROM {t.counters} WHERE id = 1").fetchone()
    return total, unread


def tags_of(conn: sqlite3.Connection, t: Tables, pks: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if pks:
        for pk, name in conn.execute(
            f"SELECT mt.message, tg.name FROM {t.message_tags} mt JOIN {t.tags} tg ON tg.id = mt.tag "
            "WHERE mt.message IN (SELECT value FROM json_each(?)) ORDER BY tg.name",
            (json.dumps(pks),),
        ):
            found[pk].append(name)
    return found


def page(conn: sqlite3.Connection, t: Tables, where: str, params: list[object], start: int, limit: int) -> Page:
    total, unread = counters(conn, t)
    if where == "1":
        matched = total
    else:
        matched = conn.execute(f"SELECT count(*) FROM {t.messages} m WHERE {where}", params).fetchone()[0]
    found = conn.execute(
        f"SELECT {rows.SUMMARY_COLUMNS} FROM {t.messages} m WHERE {where} {ORDER_NEWEST} LIMIT ? OFFSET ?",
        [*params, limit, start],
    ).fetchall()
    tags = tags_of(conn, t, [r[0] for r in found])
    messages: list[MessageSummary] = [rows.summary(r, tags.get(r[0], [])) for r in found]
    return Page(messages=messages, total=total, unread=unread, matched=matched)


def latest_id(conn: sqlite3.Connection, t: Tables, where: str, params: list[object]) -> str | None:
    row = conn.execute(f"SELECT m.id FROM {t.messages} m WHERE {where} {ORDER_NEWEST} LIMIT 1", params).fetchone()
    return None if row is None else row[0]


def detail(conn: sqlite3.Connection, t: Tables, id_: str) -> MessageDetail | None:
    row = conn.execute(f"SELECT {rows.DETAIL_COLUMNS} FROM {t.messages} m WHERE m.id = ?", (id_,)).fetchone()
    if row is None:
        return None
    parts = [rows.part_record(r) for r in conn.execute(
        f"SELECT {rows.PART_COLUMNS} FROM {t.parts} WHERE message = ? ORDER BY seq", (row[0],))]
    return rows.detail(row, tags_of(conn, t, [row[0]]).get(row[0], []), parts)


def message_location(conn: sqlite3.Connection, t: Tables, id_: str) -> MessageLocation | None:
    row = conn.execute(f"SELECT pk, size, block_size FROM {t.messages} WHERE id = ?", (id_,)).fetchone()
    return None if row is None else MessageLocation(*row)


_PART_SELECT = (
    "SELECT p.part_id, p.kind, p.content_type, p.charset, p.filename, p.content_id, p.disposition, p.size, "
    "p.md5, p.sha1, p.sha256, p.encoding, p.start_off, p.end_off, m.pk, m.size, m.block_size, p.stored "
    "FROM {parts} p JOIN {messages} m ON m.pk = p.message "
)


def _part_location(row: tuple[Any, ...] | None) -> PartLocation | None:
    if row is None:
        return None
    encoding, start, end, pk, size, block_size, stored = row[11:18]
    return PartLocation(
        rows.part_record(row), MessageLocation(pk, size, block_size), str(encoding), int(start), int(end),
        int(stored),
    )


def part_location(conn: sqlite3.Connection, t: Tables, id_: str, part_id: str) -> PartLocation | None:
    sql = _PART_SELECT.format(parts=t.parts, messages=t.messages) + "WHERE m.id = ? AND p.part_id = ?"
    return _part_location(conn.execute(sql, (id_, part_id)).fetchone())


def blob_location(conn: sqlite3.Connection, t: Tables, sha256: str) -> PartLocation | None:
    """The newest stored part with this content hash."""
    sql = _PART_SELECT.format(parts=t.parts, messages=t.messages) + "WHERE p.sha256 = ? ORDER BY p.message DESC LIMIT 1"
    return _part_location(conn.execute(sql, (sha256.lower(),)).fetchone())


def part_data(conn: sqlite3.Connection, t: Tables, pk: int, part_id: str) -> tuple[int, bytes] | None:
    row = conn.execute(
        f"SELECT compressed, data FROM {t.part_data} WHERE message = ? AND part_id = ?", (pk, part_id)
    ).fetchone()
    return None if row is None else (row[0], row[1])


def chunk_rows(conn: sqlite3.Connection, t: Tables, pk: int, part_id: str, first: int, limit: int
               ) -> list[tuple[int, bytes]]:
    """``(compressed, data)`` of up to ``limit`` decoded chunks of a part from chunk ``first``, in order."""
    return conn.execute(
        f"SELECT compressed, data FROM {t.part_chunks} WHERE message = ? AND part_id = ? AND seq >= ? "
        "ORDER BY seq LIMIT ?", (pk, part_id, first, limit),
    ).fetchall()


def tag_names(conn: sqlite3.Connection, t: Tables) -> list[str]:
    return [r[0] for r in conn.execute(f"SELECT name FROM {t.tags} ORDER BY name")]


def tag_counts(conn: sqlite3.Connection, t: Tables) -> dict[str, int]:
    return {name: count for name, count in conn.execute(
        f"SELECT tg.name, count(mt.message) FROM {t.tags} tg LEFT JOIN {t.message_tags} mt ON mt.tag = tg.id "
        "GROUP BY tg.id ORDER BY tg.name"
    )}
