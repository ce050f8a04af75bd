"""MD5 and SHA-1 of big parts, computed the first time a message is read rather than at ingest.

Ingest records only the SHA-256 of a part of ``ingest.LAZY_CHECKSUMS_MIN`` bytes or more (its
preview id) and leaves MD5/SHA-1 empty. ``Store.detail`` fills them in (reading and decoding only
the blocks of that part) and the writer saves them, so each is computed once.
"""

from __future__ import annotations

import hashlib
import sqlite3

from mailcapture.storage.base import MessageDetail
from mailcapture.storage.sqlite import reads, stream
from mailcapture.storage.sqlite.schema import Tables

Computed = list[tuple[str, str, str]]  # (part_id, md5, sha1)


def missing(detail: MessageDetail) -> bool:
    return any(not part.md5 or not part.sha1 for part in detail.parts)


def fill_missing(conn: sqlite3.Connection, t: Tables, id_: str, detail: MessageDetail) -> Computed:
    """Compute the missing checksums of ``detail``'s parts (in place); returns what was computed."""
    computed: Computed = []
    for part in detail.parts:
        if part.md5 and part.sha1:
            continue
        loc = reads.part_location(conn, t, id_, part.part_id)
        if loc is None:  # deleted meanwhile
            continue
        data = stream.part_bytes(conn, t, loc)
        part.md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        part.sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        computed.append((part.part_id, part.md5, part.sha1))
    return computed


def save(conn: sqlite3.Connection, t: Tables, id_: str, computed: Computed) -> None:
    """Writer job; a message deleted in the meantime simply matches nothing."""
    conn.executemany(
        f"UPDATE {t.parts} SET md5 = ?, sha1 = ? "
        f"WHERE message = (SELECT pk FROM {t.messages} WHERE id = ?) AND part_id = ? AND (md5 = '' OR sha1 = '')",
        [(md5, sha1, id_, part_id) for part_id, md5, sha1 in computed],
    )
