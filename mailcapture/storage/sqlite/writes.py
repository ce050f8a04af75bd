"""Write jobs. Each runs in the writer thread inside one transaction (see ``writer.py``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mailcapture.errors import BadRequest
from mailcapture.mime.model import KIND_ATTACHMENT, KIND_INLINE
from mailcapture.storage.base import NewMessage
from mailcapture.storage.sqlite import rows
from mailcapture.storage.sqlite.schema import Tables

PRUNE_BATCH = 100  # messages deleted per transaction when pruning


@dataclass(slots=True)
class PreparedMessage:
    """A message ready to insert: compression and validation already done outside the writer."""

    id: str
    message: NewMessage
    block_size: int
    blocks: list[tuple[int, bytes | memoryview]]  # (compressed flag, payload) per block, in order
    part_data: dict[str, tuple[int, bytes | memoryview]]  # part_id -> (flag, payload) for parts with data


def insert_message(conn: sqlite3.Connection, t: Tables, p: PreparedMessage) -> str:
    pk = _insert_row(conn, t, p, None)
    insert_blocks(conn, t, pk, p.blocks)
    _insert_parts(conn, t, pk, p)
    return p.id


def insert_blocks(conn: sqlite3.Connection, t: Tables, pk: int,
                  packed: Iterable[tuple[int, bytes | memoryview]]) -> None:
    conn.executemany(
        f"INSERT INTO {t.blocks} (message, seq, compressed, data) VALUES (?, ?, ?, ?)",
        ((pk, seq, flag, payload) for seq, (flag, payload) in enumerate(packed)),
    )


def next_message_pk(conn: sqlite3.Connection, t: Tables) -> int:
    """The pk the next message will get (AUTOINCREMENT: never one used before); call in a write transaction."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (t.messages,)).fetchone()
    last = row[0] if row is not None else conn.execute(f"SELECT coalesce(max(pk), 0) FROM {t.messages}").fetchone()[0]
    return int(last) + 1


def reserve_message_pk(conn: sqlite3.Connection, t: Tables) -> int:
    """Take the next message pk for a message whose blocks come before its row (see intake.py).

    AUTOINCREMENT never hands out a value at or below ``sqlite_sequence``, so raising it reserves the pk
    for this message alone (SQLite allows ordinary writes to that table)."""
    pk = next_message_pk(conn, t)
    if conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (pk, t.messages)).rowcount == 0:
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (t.messages, pk))
    return pk


def insert_block(conn: sqlite3.Connection, t: Tables, pk: int, seq: int, flag: int, payload: bytes | memoryview) -> None:
    conn.execute(f"INSERT INTO {t.blocks} (message, seq, compressed, data) VALUES (?, ?, ?, ?)", (pk, seq, flag, payload))


def insert_rows(conn: sqlite3.Connection, t: Tables, pk: int, first_seq: int,
                packed: Iterable[tuple[int, bytes | memoryview]], finish: Callable[[], PreparedMessage]) -> str:
    """The rest of a message whose first blocks were committed already under ``pk``: its last blocks
    (from ``first_seq``), then, once ``finish`` has the parsed message, its row, parts and tags."""
    for seq, (flag, payload) in enumerate(packed, start=first_seq):
        insert_block(conn, t, pk, seq, flag, payload)
    p = finish()
    _insert_row(conn, t, p, pk)
    _insert_parts(conn, t, pk, p)
    return p.id


def delete_blocks_of(conn: sqlite3.Connection, t: Tables, pk: int) -> int:
    """The committed blocks of a message that will not come (its intake was aborted)."""
    return conn.execute(f"DELETE FROM {t.blocks} WHERE message = ? AND NOT EXISTS "
                        f"(SELECT 1 FROM {t.messages} WHERE pk = ?)", (pk, pk)).rowcount


def delete_orphan_blocks(conn: sqlite3.Connection, t: Tables) -> int:
    """Blocks whose message never came (the process stopped mid-message). Only when nothing is arriving."""
    return conn.execute(f"DELETE FROM {t.blocks} WHERE message NOT IN (SELECT pk FROM {t.messages})").rowcount


def _insert_row(conn: sqlite3.Connection, t: Tables, p: PreparedMessage, pk: int | None) -> int:
    m = p.message
    kinds = [part.record.kind for part in m.parts]
    cur = conn.execute(
        f"INSERT INTO {t.messages} (pk, id, message_id, created, read, from_json, to_json, cc_json, bcc_json, "
        "reply_to_json, from_s, to_s, cc_s, bcc_s, reply_to_s, subject, subject_s, snippet, size, attachments, "
        "inlines, username, header_end, return_path, date, block_size, search_text) "
        "VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            pk, p.id, m.message_id, rows.to_micros(m.created), rows.address_json(m.from_),
            rows.addresses_json(m.to), rows.addresses_json(m.cc), rows.addresses_json(m.bcc),
            rows.addresses_json(m.reply_to), rows.addresses_search([m.from_] if m.from_ else []),
            rows.addresses_search(m.to), rows.addresses_search(m.cc), rows.addresses_search(m.bcc),
            rows.addresses_search(m.reply_to), m.subject, m.subject.lower(), m.snippet, len(m.raw),
            kinds.count(KIND_ATTACHMENT), kinds.count(KIND_INLINE), m.username, m.header_end, m.return_path,
            m.date.isoformat() if m.date else None, p.block_size, m.search_text,
        ),
    )
    new_pk = cur.lastrowid
    assert new_pk is not None  # an INSERT into a rowid table always sets it
    return new_pk


def _insert_parts(conn: sqlite3.Connection, t: Tables, pk: int, p: PreparedMessage) -> None:
    m = p.message
    conn.executemany(
        f"INSERT INTO {t.parts} (message, part_id, seq, kind, content_type, charset, filename, content_id, "
        "disposition, size, md5, sha1, sha256, encoding, start_off, end_off) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (pk, r.part_id, seq, r.kind, r.content_type, r.charset, r.filename, r.content_id, r.disposition,
             r.size, r.md5, r.sha1, r.sha256, part.encoding,
             -1 if part.data is not None else part.start, -1 if part.data is not None else part.end)
            for seq, part in enumerate(m.parts)
            for r in (part.record,)
        ),
    )
    conn.executemany(
        f"INSERT INTO {t.part_data} (message, part_id, compressed, data) VALUES (?, ?, ?, ?)",
        ((pk, part_id, flag, payload) for part_id, (flag, payload) in p.part_data.items()),
    )
    _link(conn, t, [pk], tag_ids(conn, t, m.tags))


# ---------------------------------------------------------------- tags


def tag_ids(conn: sqlite3.Connection, t: Tables, names: list[str]) -> list[int]:
    """IDs of these tags, created when missing (idempotent; the first spelling seen is kept)."""
    ids: dict[int, None] = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        conn.execute(f"INSERT INTO {t.tags} (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        ids[conn.execute(f"SELECT id FROM {t.tags} WHERE name = ?", (name,)).fetchone()[0]] = None
    return list(ids)


def _link(conn: sqlite3.Connection, t: Tables, pks: list[int], tags: list[int]) -> None:
    conn.executemany(
        f"INSERT OR IGNORE INTO {t.message_tags} (message, tag) VALUES (?, ?)",
        ((pk, tag) for pk in pks for tag in tags),
    )


def drop_unused_tags(conn: sqlite3.Connection, t: Tables) -> None:
    conn.execute(
        f"DELETE FROM {t.tags} WHERE NOT EXISTS (SELECT 1 FROM {t.message_tags} mt WHERE mt.tag = {t.tags}.id)"
    )


def set_tags(conn: sqlite3.Connection, t: Tables, ids: list[str], tags: list[str]) -> None:
    pks = [r[0] for r in conn.execute(
        f"SELECT pk FROM {t.messages} WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))]
    conn.execute(
        f"DELETE FROM {t.message_tags} WHERE message IN (SELECT value FROM json_each(?))", (json.dumps(pks),))
    _link(conn, t, pks, tag_ids(conn, t, tags))
    drop_unused_tags(conn, t)


def rename_tag(conn: sqlite3.Connection, t: Tables, old: str, new: str) -> bool:
    new = new.strip()
    if not new:
        raise BadRequest("a tag name cannot be empty")
    row = conn.execute(f"SELECT id FROM {t.tags} WHERE name = ?", (old.strip(),)).fetchone()
    if row is None:
        return False
    old_id = row[0]
    target = conn.execute(f"SELECT id FROM {t.tags} WHERE name = ?", (new,)).fetchone()
    if target is None or target[0] == old_id:
        conn.execute(f"UPDATE {t.tags} SET name = ? WHERE id = ?", (new, old_id))
        return True
    # merge onto the existing tag (it keeps its spelling)
    conn.execute(
        f"INSERT OR IGNORE INTO {t.message_tags} (message, tag) SELECT message, ? FROM {t.message_tags} WHERE tag = ?",
        (target[0], old_id),
    )
    conn.execute(f"DELETE FROM {t.tags} WHERE id = ?", (old_id,))
    return True


def delete_tag(conn: sqlite3.Connection, t: Tables, name: str) -> bool:
    return conn.execute(f"DELETE FROM {t.tags} WHERE name = ?", (name.strip(),)).rowcount > 0


# ---------------------------------------------------------------- read state, deletion, retention


def mark_read(conn: sqlite3.Connection, t: Tables, where: str, params: list[object], read: bool) -> list[str]:
    """Set the read flag of messages matching ``where`` (on alias ``m``); returns the IDs that changed."""
    return [r[0] for r in conn.execute(
        f"UPDATE {t.messages} SET read = ? WHERE read != ? AND pk IN (SELECT m.pk FROM {t.messages} m WHERE {where}) "
        "RETURNING id",
        [int(read), int(read), *params],
    ).fetchall()]


def delete_where(conn: sqlite3.Connection, t: Tables, where: str, params: list[object]) -> list[str]:
    deleted = [r[0] for r in conn.execute(
        f"DELETE FROM {t.messages} WHERE pk IN (SELECT m.pk FROM {t.messages} m WHERE {where}) RETURNING id",
        params,
    ).fetchall()]
    if deleted:
        drop_unused_tags(conn, t)
    return deleted


def ids_condition(ids: list[str]) -> tuple[str, list[object]]:
    return "m.id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]


def prune_batch(conn: sqlite3.Connection, t: Tables, max_messages: int, cutoff: int | None) -> list[str]:
    """Delete up to ``PRUNE_BATCH`` of the oldest messages beyond the limits; returns their IDs."""
    victims: dict[int, None] = {}
    if max_messages > 0:
        total = conn.execute(f"SELECT total FROM {t.counters} WHERE id = 1").fetchone()[0]
        over = min(total - max_messages, PRUNE_BATCH)
        if over > 0:
            victims.update((r[0], None) for r in conn.execute(
                f"SELECT pk FROM {t.messages} ORDER BY created ASC, pk ASC LIMIT ?", (over,)))
    if cutoff is not None and len(victims) < PRUNE_BATCH:
        victims.update((r[0], None) for r in conn.execute(
            f"SELECT pk FROM {t.messages} WHERE created < ? ORDER BY created ASC, pk ASC LIMIT ?",
            (cutoff, PRUNE_BATCH - len(victims))))
    if not victims:
        return []
    return delete_where(conn, t, "m.pk IN (SELECT value FROM json_each(?))", [json.dumps(list(victims))])
