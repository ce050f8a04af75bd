"""The one storage contract. SMTP and HTTP code talk to a :class:`Store` and nothing else.

An engine (``storage/sqlite``; PostgreSQL next) implements every method. The data it takes in is
prepared by ``mailcapture.ingest`` (parsing, decoding, hashing happen there, once, so engines only
write and read). Engines never import the web or SMTP layers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailcapture.mime.model import Address
from mailcapture.search import Query


@dataclass(slots=True)
class PartRecord:
    """A stored leaf part, as listed in a message's Inline/Attachments (and its bodies)."""

    part_id: str
    kind: str  # mime.model.KIND_*
    content_type: str
    charset: str
    filename: str
    content_id: str
    disposition: str
    size: int  # decoded bytes
    md5: str
    sha1: str
    sha256: str  # also the preview id (content-addressed)


@dataclass(slots=True)
class NewPart:
    """A part on its way in: its record plus where its bytes are (range of raw, or decoded data)."""

    record: PartRecord
    encoding: str
    start: int  # encoded body is raw[start:end]; -1 when ``data`` is set
    end: int
    data: bytes | None = None


@dataclass(slots=True)
class MessageSummary:
    id: str
    message_id: str
    read: bool
    from_: Address | None
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    subject: str
    created: datetime  # aware, UTC
    username: str
    tags: list[str]
    size: int  # raw bytes received
    attachments: int  # count of KIND_ATTACHMENT parts
    snippet: str


@dataclass(slots=True)
class MessageDetail(MessageSummary):
    return_path: str = ""
    date: datetime | None = None
    header_end: int = 0  # raw[:header_end] is the header block: read it with Store.raw_range
    parts: list[PartRecord] = field(default_factory=list)  # bodies, inline and attachments


@dataclass(slots=True)
class NewMessage:
    """Everything an engine stores for one message. ``raw`` is exactly what was received."""

    raw: bytes
    created: datetime
    message_id: str
    from_: Address | None
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    return_path: str
    subject: str
    date: datetime | None
    username: str
    tags: list[str]
    snippet: str
    search_text: str  # lower-cased text searched by free words (addresses, subject, text, file names)
    header_end: int
    parts: list[NewPart]


@dataclass(slots=True)
class Page:
    messages: list[MessageSummary]
    total: int  # messages in the store
    unread: int  # unread messages in the store
    matched: int  # messages matching the query (== total without a query)


@dataclass(slots=True)
class Stats:
    total: int
    unread: int
    size_bytes: int  # database size on disk
    tags: dict[str, int]  # tag -> message count


class Intake:
    """One message arriving over SMTP: its raw bytes are fed in order while they are received, so an
    engine can start work on them before the end of DATA (the SQLite engine compresses each finished
    block at once). ``feed`` runs on the event loop and must only hand work off. This default keeps
    nothing and stores with ``Store.add``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def feed(self, data: bytes | memoryview) -> None:
        """The next bytes of the raw message (called in order, on the event loop)."""

    async def add(self, raw: bytes, build: Awaitable[NewMessage]) -> str:
        """Store the message: ``raw`` is everything fed, ``build`` (already running) makes the rest."""
        return await self._store.add(await build)

    def abort(self) -> None:
        """The message will not be stored: drop whatever was started (safe to call more than once)."""


class Store(ABC):
    """Async storage interface. Every write is durable when its coroutine returns, or raises
    ``StorageError`` having written nothing."""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    # -- writing
    @abstractmethod
    async def add(self, message: NewMessage) -> str:
        """Store one message atomically (tags created idempotently); return its new ID."""

    def intake(self) -> Intake:
        """A new :class:`Intake` for a message about to arrive."""
        return Intake(self)

    async def add_received(self, raw: bytes, build: Awaitable[NewMessage]) -> str:
        """Store a message given its raw bytes and the work, already running, that builds the rest
        (``build``'s message has ``raw`` as its raw bytes): an intake fed all of ``raw`` at once."""
        intake = self.intake()
        try:
            intake.feed(raw)
            return await intake.add(raw, build)
        except BaseException:
            intake.abort()
            raise

    @abstractmethod
    async def mark_read(self, ids: list[str] | None, query: Query | None, read: bool) -> list[str]:
        """Set read state of ``ids``, or of matches of ``query``, or of all (both None)."""

    @abstractmethod
    async def delete(self, ids: list[str] | None) -> list[str]:
        """Delete ``ids`` (None = all). Returns the IDs really deleted."""

    @abstractmethod
    async def delete_matching(self, query: Query) -> list[str]: ...

    @abstractmethod
    async def set_tags(self, ids: list[str], tags: list[str]) -> None:
        """Replace the tags of ``ids`` (an empty list removes all)."""

    @abstractmethod
    async def rename_tag(self, old: str, new: str) -> bool:
        """False when ``old`` does not exist. Renaming onto an existing tag merges them."""

    @abstractmethod
    async def delete_tag(self, name: str) -> bool: ...

    @abstractmethod
    async def prune(self, max_messages: int, max_age_seconds: float) -> list[str]:
        """Delete the oldest beyond ``max_messages`` and those older than the age (0 = no limit)."""

    # -- reading
    @abstractmethod
    async def page(self, query: Query | None, start: int, limit: int) -> Page: ...

    @abstractmethod
    async def detail(self, id: str) -> MessageDetail | None: ...

    @abstractmethod
    async def latest_id(self, query: Query | None) -> str | None: ...

    @abstractmethod
    async def raw(self, id: str) -> bytes | None:
        """Exactly the bytes received, or None for an unknown ID."""

    @abstractmethod
    async def raw_range(self, id: str, start: int, end: int) -> bytes | None:
        """``raw[start:end]``, costing work proportional to the range, not the message."""

    @abstractmethod
    async def part(self, id: str, part_id: str) -> tuple[PartRecord, bytes] | None:
        """A part's decoded bytes, costing work proportional to the part."""

    @abstractmethod
    async def blob(self, sha256: str) -> tuple[PartRecord, AsyncIterator[bytes]] | None:
        """Decoded bytes of any part with this content hash, as chunks (for the previewer)."""

    async def direct_read(self) -> dict[str, Any] | None:
        """How another process on this machine may read parts without this one (the previewer does,
        to spare both processes the HTTP hop): engine-specific, JSON-able; None when it cannot."""
        return None

    @abstractmethod
    async def tags(self) -> list[str]: ...

    @abstractmethod
    async def stats(self) -> Stats: ...
