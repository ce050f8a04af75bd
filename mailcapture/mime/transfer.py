"""Lenient Content-Transfer-Encoding decoding at C speed, whole or streamed.

``decode`` never raises on bad input: broken base64 padding is repaired, stray characters are
skipped, and unknown encodings pass the bytes through. ``iter_decode`` yields exactly the bytes
``decode`` would give for the concatenated input, whatever the chunking.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator

try:  # SIMD base64 (AVX2/AVX-512/NEON): 20-40x binascii on large parts
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - the dependency is declared; stay correct without it
    _pybase64 = None  # type: ignore[assignment]

ENCODING_BASE64 = "base64"
ENCODING_QP = "quoted-printable"

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_PAD = b"="
_B64_QUANTUM = 4
# Every byte that a2b_base64 (non-strict) skips: everything but the alphabet and "=".
_B64_NOISE = bytes(b for b in range(256) if b not in _B64_ALPHABET + _B64_PAD)

# Longest carry kept when a quoted-printable stream has no line break for a while.
_QP_MAX_CARRY = 4096
_QP_CR_SOFT_BREAK = b"=\r"


def _decode_well_formed(clean: bytes) -> bytes | None:
    """Strict base64 (alphabet and final padding only) with pybase64; None when not well formed.

    For well-formed input every decoder gives the same bytes, so this is only a faster road to
    binascii's answer; anything irregular is left to the lenient path below.
    """
    if _pybase64 is None:
        return None
    try:
        return _pybase64.b64decode(clean, validate=True)
    except (binascii.Error, ValueError):
        return None


def _a2b(clean: bytes) -> bytes:
    """``binascii.a2b_base64`` of alphabet-only quanta (a multiple of 4), faster when possible."""
    fast = _decode_well_formed(clean)
    return binascii.a2b_base64(clean) if fast is None else fast


# The longest tail after the first "=" of regular base64: up to two pads and a line break or two.
_MAX_PAD_TAIL = 8


def _decode_regular_base64(buffer: bytes, start: int, end: int) -> bytes | None:
    """``buffer[start:end]`` when it is base64 with padding only at its end, decoded by pybase64
    straight from the buffer (no copy, no translate); None sends the caller to the general path.

    Not validating, pybase64 discards every byte outside the standard and URL-safe alphabets before
    the padding check, as ``binascii.a2b_base64`` discards everything outside the standard one. The
    two agree whenever no "=" comes before the end (checked here), no URL-safe "-" or "_" is present
    (binascii skips them, pybase64 would not; checked with memchr) and the quanta are complete
    (pybase64 raises otherwise). Only single-byte searches run over the range: no count, no copy.
    """
    if _pybase64 is None:
        return None
    if buffer.find(b"-", start, end) >= 0 or buffer.find(b"_", start, end) >= 0:
        return None
    pad_at = buffer.find(_B64_PAD, start, end)
    pads = 0
    if pad_at >= 0:
        tail = buffer[pad_at:end]
        if len(tail) > _MAX_PAD_TAIL or tail.translate(None, b"=\r\n"):
            return None
        pads = tail.count(_B64_PAD)
        if pads > 2:
            return None
    try:
        decoded = _pybase64.b64decode(memoryview(buffer)[start:end], validate=False)
    except (binascii.Error, ValueError):
        return None
    return decoded if (len(decoded) + pads) % 3 == 0 else None


class IrregularBase64(ValueError):
    """A part ``iter_decode_regular_base64`` cannot decode piece by piece (use ``decode_range``)."""


REGULAR_PIECE = 192 * 1024  # encoded bytes per piece: decoded pieces stay far below the mmap threshold


def iter_decode_regular_base64(buffer: bytes, start: int, end: int, piece: int = REGULAR_PIECE) -> Iterator[bytes]:
    """``decode_range(buffer, start, end, "base64")`` in pieces of about ``piece`` encoded bytes, cut
    after a line break, for hashing a big part without holding it decoded: no multi-megabyte buffer
    (each one a fresh mmap and a page fault per 4 KiB). Raises :class:`IrregularBase64` (possibly
    after yielding some pieces) when a piece is not regular base64 with whole quanta, or when padding
    or URL-safe characters appear anywhere but at the very end; the caller then starts over with
    ``decode_range``.
    """
    pos = start
    while pos < end:
        cut = end if end - pos <= piece else buffer.find(b"\n", pos + piece, end)
        cut = end if cut < 0 else cut + 1
        if cut < end and buffer.find(_B64_PAD, pos, cut) >= 0:
            raise IrregularBase64("padding before the end of the part")
        decoded = _decode_regular_base64(buffer, pos, cut)
        if decoded is None:
            raise IrregularBase64("not regular base64")
        yield decoded
        pos = cut


def _decode_lines(buffer: bytes, start: int, end: int) -> bytes | None:
    """Whole lines of regular base64 without any padding (the streaming decoder's fast path)."""
    if buffer.find(_B64_PAD, start, end) >= 0:
        return None
    return _decode_regular_base64(buffer, start, end)


def decode_range(buffer: bytes, start: int, end: int, encoding: str) -> bytes:
    """``decode(buffer[start:end], encoding)``, faster for regular base64 (no copy of the range)."""
    if normalize_encoding(encoding) == ENCODING_BASE64:
        fast = _decode_regular_base64(buffer, start, end)
        if fast is not None:
            return fast
    return decode(memoryview(buffer)[start:end], encoding)


def normalize_encoding(encoding: str) -> str:
    return encoding.strip().strip('"').lower()


def decode(encoded: bytes | bytearray | memoryview, encoding: str) -> bytes:
    """Decode a transfer-encoded body leniently; unknown encodings return the bytes unchanged."""
    kind = normalize_encoding(encoding)
    if kind == ENCODING_BASE64:
        buffer = encoded if isinstance(encoded, bytes) else bytes(encoded)
        regular = _decode_regular_base64(buffer, 0, len(buffer))
        if regular is not None:
            return regular
        fast = _decode_well_formed(buffer.translate(None, _B64_NOISE))
        if fast is not None:
            return fast
        try:
            return binascii.a2b_base64(encoded)
        except (binascii.Error, ValueError):
            decoder = _Base64Decoder()
            return decoder.feed(bytes(encoded)) + decoder.finish()
    if kind == ENCODING_QP:
        return binascii.a2b_qp(encoded)
    return bytes(encoded)


def iter_decode(chunks: Iterable[bytes | bytearray | memoryview], encoding: str) -> Iterator[bytes]:
    """Streaming ``decode``: ``b"".join(iter_decode(c, e)) == decode(b"".join(c), e)``."""
    kind = normalize_encoding(encoding)
    decoder: _Base64Decoder | _QuotedPrintableDecoder
    if kind == ENCODING_BASE64:
        decoder = _Base64Decoder()
    elif kind == ENCODING_QP:
        decoder = _QuotedPrintableDecoder()
    else:
        yield from (bytes(chunk) for chunk in chunks if chunk)
        return
    for chunk in chunks:
        out = decoder.feed(bytes(chunk))
        if out:
            yield out
    tail = decoder.finish()
    if tail:
        yield tail


# Longest unfinished line the streaming decoder carries over to the next chunk on its fast path.
_MAX_LINE_CARRY = 4096


class _Base64Decoder:
    """Replays binascii.a2b_base64's non-strict state machine across chunks.

    a2b_base64 skips non-alphabet bytes, ignores "=" unless at least two characters of a quantum
    are present, and stops for good once a quantum is completed by padding. At the end, a partial
    quantum of 2 or 3 characters still yields its bytes (as if padded); a lone character is dropped.

    Fast path: while the input is whole lines of regular base64 (see ``_decode_regular_base64``),
    the lines of each chunk are decoded straight from it (no translate, no copy) and only the
    unfinished last line is carried to the next chunk. The first line that is not regular (padding,
    odd line lengths, stray bytes) hands everything from there to the state machine for good.
    """

    __slots__ = ("_carry", "_done", "_lines", "_pads", "_pending")

    def __init__(self) -> None:
        self._pending = b""  # alphabet characters of the current, incomplete quantum (< 4)
        self._pads = 0  # "=" seen since the last alphabet character, when counted
        self._done = False
        self._lines = True  # still on the fast path
        self._carry = b""  # fast path: the unfinished last line of the previous chunk

    def feed(self, chunk: bytes) -> bytes:
        if self._done or not chunk:
            return b""
        if self._lines:
            return self._feed_lines(chunk)
        return self._feed_any(chunk)

    def _feed_lines(self, chunk: bytes) -> bytes:
        last = chunk.rfind(b"\n")
        if last < 0:
            self._carry += chunk
            return self._leave_fast_path(b"") if len(self._carry) > _MAX_LINE_CARRY else b""
        out: list[bytes] = []
        start = 0
        if self._carry:
            start = chunk.find(b"\n") + 1
            head = self._carry + chunk[:start]
            decoded = _decode_lines(head, 0, len(head))
            if decoded is None:
                return self._leave_fast_path(chunk)
            self._carry = b""
            out.append(decoded)
        if start <= last:
            decoded = _decode_lines(chunk, start, last + 1)
            if decoded is None:
                out.append(self._leave_fast_path(chunk[start:]))
                return b"".join(out)
            out.append(decoded)
        self._carry = chunk[last + 1 :]
        return out[0] if len(out) == 1 else b"".join(out)

    def _leave_fast_path(self, rest: bytes) -> bytes:
        """From here on, the state machine: it gets the carried bytes and ``rest``."""
        self._lines = False
        data, self._carry = self._carry + rest, b""
        return self._feed_any(data)

    def _feed_any(self, chunk: bytes) -> bytes:
        if self._done or not chunk:
            return b""
        clean = chunk.translate(None, _B64_NOISE)
        out: list[bytes] = []
        pos = 0
        while pos < len(clean):
            pad_at = clean.find(_B64_PAD, pos)
            segment = clean[pos:] if pad_at < 0 else clean[pos:pad_at]
            if segment:
                self._pads = 0
                data = self._pending + segment
                whole = len(data) - len(data) % _B64_QUANTUM
                if whole:
                    out.append(_a2b(data[:whole]))
                self._pending = data[whole:]
            if pad_at < 0:
                break
            have = len(self._pending)
            if have >= 2:
                self._pads += 1
                if have + self._pads >= _B64_QUANTUM:
                    out.append(self._flush())
                    self._done = True
                    break
            pos = pad_at + 1
        return b"".join(out)

    def finish(self) -> bytes:
        if self._done:
            return b""
        head = self._leave_fast_path(b"") if self._carry else b""
        if self._done:
            return head
        self._done = True
        return head + self._flush()

    def _flush(self) -> bytes:
        pending, self._pending = self._pending, b""
        if len(pending) < 2:
            return b""
        return binascii.a2b_base64(pending + b"==")


class _QuotedPrintableDecoder:
    """Feeds binascii.a2b_qp only prefixes that end in a neutral state (never inside "=XY")."""

    __slots__ = ("_carry",)

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._carry + chunk
        out = b""
        line_end = data.rfind(b"\n") + 1  # after a line feed a2b_qp is always in a neutral state
        if line_end:
            out = binascii.a2b_qp(data[:line_end])
            data = data[line_end:]
        if len(data) <= _QP_MAX_CARRY:
            self._carry = data
            return out
        return out + self._cut_long_line(data)

    def finish(self) -> bytes:
        data, self._carry = self._carry, b""
        return binascii.a2b_qp(data) if data else b""

    def _cut_long_line(self, data: bytes) -> bytes:
        """``data`` has no line feed and starts in a neutral state; emit a safe prefix."""
        skip_at = _escape_initial_cr(data)
        if skip_at >= 0:
            # "=\r" makes a2b_qp skip everything up to the next line feed.
            self._carry = _QP_CR_SOFT_BREAK
            return binascii.a2b_qp(data[:skip_at])
        cut = _qp_neutral_cut(data)
        self._carry = data[cut:]
        return binascii.a2b_qp(data[:cut])


def _trailing_escapes(data: bytes) -> int:
    return len(data) - len(data.rstrip(b"="))


def _qp_neutral_cut(data: bytes) -> int:
    """Largest cut (at most 2 bytes short of the end) after which a2b_qp's state is neutral.

    ``data`` starts in a neutral state, has no line feed and no escape-initial "=\r". Then the
    position just before any run of "=" is neutral (an escape never ends in "="), and inside a
    run "==" pairs decode to "=", so parity says where a run can be cut."""
    run = _trailing_escapes(data)
    if run:  # cut after the complete "==" pairs; an odd "=" waits for what follows
        return len(data) - run + 2 * (run // 2)
    before_last = _trailing_escapes(data[:-1])
    if before_last % 2 == 1:  # "=X" at the end may still become "=XY"
        return len(data) - 2
    return len(data)


# A whole run of "=" followed by CR; the lookbehind keeps the search linear (runs start once).
_ESCAPES_BEFORE_CR = re.compile(rb"(?<!=)(=++)\r")


def _escape_initial_cr(data: bytes) -> int:
    """Index of the first "=" that a2b_qp reads as an escape followed by CR, or -1.

    A run of "=" is consumed pairwise ("==" gives "="), so the "=" before CR starts an escape only
    when the run has odd length."""
    for match in _ESCAPES_BEFORE_CR.finditer(data):
        if len(match.group(1)) % 2 == 1:
            return match.end() - 2
    return -1
