"""Reading parts straight from the SQLite file, from another process on the same machine.

The previewer renders attachments the capture service stored. Over HTTP (``/internal/blob``) every
thumbnail costs the capture service the decompression and decoding of the part, the event loop's
writes, and the previewer the reads and the pipe to its worker: about 15 ms of CPU outside the
worker for a 12 MP JPEG, more than a third of the render itself. When the database file is on the
same machine, the previewer opens it read-only instead (WAL lets any number of readers in other
processes read while the capture service writes): its service process looks a part up by content
hash and reads the first bytes to sniff the type (:meth:`DirectReader.locate`, :meth:`DirectReader.head`),
and the worker that renders it decodes the part itself (:meth:`DirectReader.pieces`) from a
:class:`Span`, a few numbers passed in the job.

The capture service says where its file is (:func:`describe`, served at ``/internal/store``); the
reader checks that the path names the same file (device and inode) before it trusts it.

Nothing here holds a transaction open for long: every block is one statement, and a chunk of a part kept
decoded is one incremental blob read (a read transaction while its pieces are handed out, a few
milliseconds), so a reader never stops the capture service's checkpoints from emptying the WAL file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mailcapture import mime
from mailcapture.errors import StorageError
from mailcapture.storage.base import PartRecord
from mailcapture.storage.sqlite import blocks, decoded, reads, stream
from mailcapture.storage.sqlite.connections import open_reader
from mailcapture.storage.sqlite.schema import Tables

ENGINE = "sqlite"
# Encoded bytes read to find the first ``n`` decoded bytes: base64 needs 4/3 plus line breaks,
# quoted-printable up to 3 per byte.
HEAD_EXPANSION = 3
HEAD_SLACK = 1024
# Page cache per connection of a direct reader. Blocks are read once per preview and stream through the
# OS's page cache; the 4 MiB a capture-service reader keeps would only add to every worker's RSS.
DIRECT_CACHE_KIB = 256
FIRST_PIECE = 64 * 1024  # early reads of a part kept decoded: its first bytes alone, then the rest
# A chunk stored as is is read in pieces of this size: below glibc's mmap threshold, so they come from the
# heap and are reused (1 MiB pieces faulted ~870 fresh pages in per 12 MP JPEG under glibc: 2.6 -> 1.1 ms).
CHUNK_PIECE = 256 * 1024


@dataclass(frozen=True, slots=True)
class Span:
    """Where a part's bytes are: everything a reader needs, and nothing it must look up again."""

    pk: int
    message_size: int
    block_size: int
    encoding: str
    start: int  # -1: the decoded bytes are in the part_data table (under part_id)
    end: int
    part_id: str
    size: int  # decoded bytes
    stored: int = decoded.ENCODED  # decoded.DECODED: the bytes are in part_chunks, read as they are

    def to_dict(self) -> dict[str, Any]:
        return {"pk": self.pk, "message_size": self.message_size, "block_size": self.block_size,
                "encoding": self.encoding, "start": self.start, "end": self.end, "part_id": self.part_id,
                "size": self.size, "stored": self.stored}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Span:
        return cls(int(raw["pk"]), int(raw["message_size"]), int(raw["block_size"]), str(raw["encoding"]),
                   int(raw["start"]), int(raw["end"]), str(raw["part_id"]), int(raw["size"]),
                   int(raw.get("stored", decoded.ENCODED)))

    @property
    def in_chunks(self) -> bool:
        return self.stored == decoded.DECODED

    @property
    def message(self) -> reads.MessageLocation:
        return reads.MessageLocation(self.pk, self.message_size, self.block_size)


def describe(path: str, prefix: str) -> dict[str, Any]:
    """What another process needs to open this store: the file, its identity, the tenant's prefix."""
    absolute = os.path.abspath(path)
    st = os.stat(absolute)
    return {"engine": ENGINE, "path": absolute, "prefix": prefix, "device": st.st_dev, "inode": st.st_ino}


def same_file(info: dict[str, Any]) -> bool:
    """The described file is the one this process sees at that path (not a namesake in another container)."""
    try:
        st = os.stat(str(info["path"]))
        return (info.get("engine") == ENGINE and st.st_dev == int(info["device"])
                and st.st_ino == int(info["inode"]))
    except (OSError, KeyError, TypeError, ValueError):
        return False


class DirectReader:
    """Read-only access to one store's parts; one connection per thread that uses it."""

    def __init__(self, path: str, prefix: str) -> None:
        self.path = path
        self.prefix = prefix
        self.tables = Tables(prefix)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = open_reader(self.path, DIRECT_CACHE_KIB)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open {self.path} for reading: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        yield self._conn()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def locate(self, sha256: str) -> tuple[PartRecord, Span] | None:
        """The newest stored part with this content hash, or None."""
        try:
            loc = reads.blob_location(self._conn(), self.tables, sha256)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot look up blob {sha256}: {exc}") from exc
        if loc is None:
            return None
        span = Span(loc.message.pk, loc.message.size, loc.message.block_size, loc.encoding, loc.start, loc.end,
                    loc.record.part_id, loc.record.size, loc.stored)
        return loc.record, span

    def head(self, span: Span, n: int) -> bytes:
        """At most the first ``n`` decoded bytes (decoding only what they need)."""
        if span.start < 0:
            return self._side_data(span)[:n]
        if span.in_chunks:
            return b"".join(self._chunks(span, first=n, limit=n))
        end = min(span.end, span.start + n * HEAD_EXPANSION + HEAD_SLACK)
        out = bytearray()
        for piece in mime.iter_decode(self._encoded(span, end, early=True), span.encoding):
            out += piece
            if len(out) >= n:
                break
        return bytes(out[:n])

    def pieces(self, span: Span, early: bool = False) -> Iterator[bytes]:
        """The part's decoded bytes, in pieces of at most a few hundred kilobytes. ``early``: the first ones
        come out at once (a reader that starts on them before the rest); otherwise each block is
        decompressed in one call, which costs less CPU.

        Raises StorageError when the message was deleted meanwhile (or the data is damaged)."""
        if span.start < 0:
            yield self._side_data(span)
            return
        if span.in_chunks:
            yield from self._chunks(span, first=FIRST_PIECE if early else 0)
            return
        yield from mime.iter_decode(self._encoded(span, span.end, early), span.encoding)

    def _encoded(self, span: Span, end: int, early: bool) -> Iterator[bytes | memoryview]:
        try:
            yield from stream.encoded_range(self._borrow, self.tables, span.message, span.start, end, lazy=True,
                                            early=early)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read part {span.part_id}: {exc}") from exc

    def _chunks(self, span: Span, first: int = 0, limit: int = 0) -> Iterator[bytes]:
        """The decoded bytes of a part kept decoded, checked against its size. A chunk stored as is is read in
        pieces of CHUNK_PIECE (incremental blob I/O); ``first``: the very first piece is that many bytes
        (the reader starts on them at once). ``limit``: stop after that many bytes."""
        total = 0
        seq = 0
        want = min(limit, span.size) if limit else span.size
        cut = want if limit else 1 << 62  # a part longer than recorded is read whole: the caller sees it
        try:
            conn = self._conn()
            while total < want:
                row = conn.execute(
                    f"SELECT rowid, compressed, length(data) FROM {self.tables.part_chunks} "
                    "WHERE message = ? AND part_id = ? AND seq = ?", (span.pk, span.part_id, seq)).fetchone()
                if row is None:
                    break
                rowid, flag, length = row
                if flag == blocks.STORED:
                    with conn.blobopen(self.tables.part_chunks, "data", rowid, readonly=True) as blob:
                        left = min(length, cut - total)
                        while left > 0:
                            piece = blob.read(min(first or CHUNK_PIECE, left))
                            if not piece:
                                break
                            first = 0
                            left -= len(piece)
                            total += len(piece)
                            yield piece
                else:
                    found = conn.execute(f"SELECT data FROM {self.tables.part_chunks} WHERE rowid = ?",
                                         (rowid,)).fetchone()
                    data = blocks.decompress(flag, found[0])[: cut - total] if found else b""
                    total += len(data)
                    if data:
                        yield data
                seq += 1
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read part {span.part_id}: {exc}") from exc
        if total < want or (not limit and total != span.size):
            if total == 0:
                raise StorageError("the message was deleted while its part was being read")
            raise StorageError(f"part {span.part_id} has {total} decoded bytes, {span.size} recorded")

    def _side_data(self, span: Span) -> bytes:
        try:
            found = reads.part_data(self._conn(), self.tables, span.pk, span.part_id)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read part {span.part_id}: {exc}") from exc
        if found is None:
            raise StorageError("the message was deleted while its part was being read")
        return blocks.decompress(*found)
