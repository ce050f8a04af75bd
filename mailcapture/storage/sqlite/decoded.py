"""Big base64 parts kept decoded, the raw message still exact (schema version 3).

A 3.7 MB JPEG attachment arrives as 5 MB of base64 lines. Kept that way, every read of the part (an
attachment download, every thumbnail) decompresses 5 MB of zstd and decodes the base64 again: about
4 ms of CPU for one photo, more than the rest of a preview's overhead. So after a message is stored
(its 250 already answered), :mod:`~mailcapture.storage.sqlite.compaction` rewrites each big part whose
base64 is *regular* (lines of one length, one kind of line break, padding only at the end: what every
mail program writes) as:

- its decoded bytes in ``part_chunks``, chunks of whole lines' worth of bytes (about 1 MiB), each
  compressed on its own or stored as is (JPEG, PNG, PDF and MP4 do not compress);
- raw blocks whose bytes it covered turned into *derived* blocks (``compressed`` = :data:`DERIVED`):
  a list of segments, literal bytes (compressed or not) for what lies outside such parts, references
  for what lies inside. A reference is rebuilt by encoding the chunks again (:func:`rebuild`).

Regular means the encoding can be redone byte for byte from the decoded bytes and a :class:`Layout`, and
compaction checks it by doing exactly that before it keeps anything. The raw message's block grid does not
change: a block holds the same raw bytes whatever its form, so a reader streaming a message while it is
rewritten reads the same bytes before and after. The data is stored once (decoded bytes are 3/4 of
their base64), so the level-0 size rule holds with room to spare.
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mailcapture.errors import StorageError
from mailcapture.mime import transfer

try:
    import pybase64 as _b64
except ImportError:  # pragma: no cover - declared dependency
    _b64 = None  # type: ignore[assignment]

DERIVED = 2  # raw_blocks.compressed: a list of segments (this module)
CHUNK = 1024 * 1024  # about this many decoded bytes per part_chunks row (a whole number of lines)
MIN_PART = 64 * 1024  # decoded bytes: smaller parts stay encoded (not worth a second table)
# A chunk is kept compressed only when that saves more than this: JPEG, PNG, PDF and MP4 gain a percent
# or two, not worth decompressing every megabyte on every read.
MIN_SAVING = 1 / 16
SINGLE_LINE = 76  # the line length recorded for base64 without line breaks (any multiple of 4 works)
MAX_LINE = 1000  # RFC 5322's line limit: longer first lines are not looked at

# parts.stored
ENCODED, DECODED, IRREGULAR = 0, 1, 2

_HEADER = struct.Struct("<I")  # length of the JSON segment list that starts a derived block


def b64encode(data: bytes | memoryview) -> bytes:
    return _b64.b64encode(data) if _b64 is not None else binascii.b2a_base64(data, newline=False)


@dataclass(frozen=True, slots=True)
class Layout:
    """How a regular base64 body is written: ``line`` characters per line, each followed by ``eol`` (the
    last line may be shorter, and is followed by ``eol`` only when ``trailing``), ``size`` decoded bytes."""

    line: int
    eol: bytes
    trailing: bool
    size: int

    @property
    def per_line(self) -> int:
        return self.line // 4 * 3

    @property
    def stride(self) -> int:
        return self.line + len(self.eol)

    @property
    def lines(self) -> int:
        return max(1, -(-self.size // self.per_line))

    @property
    def chunk(self) -> int:
        """Decoded bytes per chunk: a whole number of lines, so each chunk's base64 is whole lines."""
        return max(1, CHUNK // self.per_line) * self.per_line

    def encoded_size(self) -> int:
        last = self.size - (self.lines - 1) * self.per_line
        tail = len(self.eol) if self.trailing else 0
        return (self.lines - 1) * self.stride + 4 * -(-last // 3) + tail

    def encode(self, data: bytes | memoryview, last: bool) -> bytes:
        """The base64 lines of ``data``, which starts at a line's start; ``last``: it ends the part."""
        text = b64encode(data)
        if not self.eol:
            return text
        view = memoryview(text)
        out = self.eol.join([view[i : i + self.line] for i in range(0, len(text), self.line)])
        return out + self.eol if (not last or self.trailing) and text else out

    def to_dict(self) -> dict[str, int]:
        return {"line": self.line, "eol": len(self.eol), "trail": int(self.trailing), "size": self.size}

    @classmethod
    def from_dict(cls, raw: dict[str, int]) -> Layout:
        return cls(int(raw["line"]), {0: b"", 1: b"\n", 2: b"\r\n"}[int(raw["eol"])], bool(raw["trail"]),
                   int(raw["size"]))


def guess_layout(head: bytes, encoded_len: int, size: int) -> Layout | None:
    """The layout a body starting with ``head`` must have if it is regular; None when it cannot be.
    Whether it is, only encoding the decoded bytes again tells (compaction does)."""
    if size <= 0:
        return None
    newline = head.find(b"\n", 0, MAX_LINE + 2)
    if newline < 0:  # one line (longer ones are caught when encoding again)
        if b"\r" in head:
            return None
        candidates = [Layout(SINGLE_LINE, b"", False, size)]
    else:
        eol = b"\r\n" if newline > 0 and head[newline - 1 : newline] == b"\r" else b"\n"
        line = newline - (len(eol) - 1)
        if line <= 0 or line % 4:
            return None
        candidates = [Layout(line, eol, trailing, size) for trailing in (True, False)]
    for layout in candidates:
        if layout.encoded_size() == encoded_len:
            return layout
    return None


# ---------------------------------------------------------------- derived blocks


@dataclass(frozen=True, slots=True)
class Literal:
    length: int  # raw bytes
    flag: int  # blocks.STORED or blocks.ZSTD
    payload: bytes | memoryview


@dataclass(frozen=True, slots=True)
class Reference:
    """``length`` raw bytes of part ``part_id``'s body from its encoded offset ``offset``."""

    part_id: str
    offset: int
    length: int
    layout: Layout
    chunk: int  # decoded bytes per chunk row of that part


Segment = Literal | Reference


def pack(segments: Iterable[Segment]) -> bytes:
    """A derived block's payload: the segment list as JSON, then the literals' payloads."""
    listed: list[dict[str, object]] = []
    tail: list[bytes | memoryview] = []
    for seg in segments:
        if isinstance(seg, Literal):
            listed.append({"n": seg.length, "flag": seg.flag, "bytes": len(seg.payload)})
            tail.append(seg.payload)
        else:
            listed.append({"n": seg.length, "part": seg.part_id, "off": seg.offset, "chunk": seg.chunk,
                           **seg.layout.to_dict()})
    head = json.dumps(listed, separators=(",", ":")).encode()
    return b"".join([_HEADER.pack(len(head)), head, *tail])


def unpack(payload: bytes) -> list[Segment]:
    try:
        (n,) = _HEADER.unpack_from(payload)
        listed = json.loads(bytes(payload[_HEADER.size : _HEADER.size + n]))
        pos = _HEADER.size + n
        out: list[Segment] = []
        for item in listed:
            if "part" in item:
                out.append(Reference(str(item["part"]), int(item["off"]), int(item["n"]), Layout.from_dict(item),
                                     int(item["chunk"])))
            else:
                size = int(item["bytes"])
                out.append(Literal(int(item["n"]), int(item["flag"]), payload[pos : pos + size]))
                pos += size
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"a derived raw block is damaged: {exc}") from exc
    if pos != len(payload):
        raise StorageError("a derived raw block is damaged: its literals do not add up")
    return out


ReadChunk = Callable[[str, int], bytes]  # (part_id, seq) -> decoded chunk bytes
Decompress = Callable[[int, bytes], bytes]


def rebuild(ref: Reference, read_chunk: ReadChunk) -> bytes:
    """The raw bytes a reference stands for: the lines it touches, encoded again, cut to its range."""
    lay = ref.layout
    first = ref.offset // lay.stride
    last = (ref.offset + ref.length - 1) // lay.stride
    lo = first * lay.per_line
    hi = min((last + 1) * lay.per_line, lay.size)
    data = read_decoded(ref.part_id, ref.chunk, lo, hi, read_chunk)
    text = lay.encode(data, last=hi == lay.size)
    cut = ref.offset - first * lay.stride
    out = text[cut : cut + ref.length]
    if len(out) != ref.length:
        raise StorageError(f"part {ref.part_id}'s chunks do not rebuild its base64 ({len(out)} of {ref.length} bytes)")
    return out


def read_decoded(part_id: str, chunk: int, lo: int, hi: int, read_chunk: ReadChunk) -> bytes:
    """Decoded bytes ``[lo, hi)`` of a part kept in chunks of ``chunk`` bytes."""
    pieces: list[bytes | memoryview] = []
    for seq in range(lo // chunk, (hi - 1) // chunk + 1) if hi > lo else ():
        data = read_chunk(part_id, seq)
        base = seq * chunk
        pieces.append(memoryview(data)[max(lo - base, 0) : hi - base])
    out = b"".join(pieces)
    if len(out) != hi - lo:
        raise StorageError(f"part {part_id}'s decoded chunks are short ({len(out)} of {hi - lo} bytes)")
    return out


def materialize(payload: bytes, read_chunk: ReadChunk, decompress: Decompress) -> bytes:
    """A derived block's raw bytes."""
    out: list[bytes] = []
    for seg in unpack(payload):
        if isinstance(seg, Literal):
            data = decompress(seg.flag, bytes(seg.payload))
            if len(data) != seg.length:
                raise StorageError("a derived raw block is damaged: a literal has a wrong length")
            out.append(data)
        else:
            out.append(rebuild(seg, read_chunk))
    return b"".join(out)


def regular_decode(text: bytes | memoryview) -> bytes:
    """Decode a stretch of base64 lines (the caller checks the result by encoding it again)."""
    return transfer.decode(text, transfer.ENCODING_BASE64)
