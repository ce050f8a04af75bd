"""The fast path and the standard library agree on generated messages."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import compat32

import pytest

from mailcapture.mime import decode, parse
from mailcapture.mime.fallback import stdlib_leaves
from mailcapture.mime.kinds import assign_kinds

from .messages import ALL_BUILDERS, as_crlf, as_lf

_SERIALISERS = {"crlf": as_crlf, "lf": as_lf}


def _stdlib_leaf_payloads(raw: bytes) -> list[bytes | None]:
    """Decoded payload of every leaf, straight from the standard library, in document order;
    None for attached messages (not descended into, compared separately)."""
    out: list[bytes | None] = []
    pending = [BytesParser(policy=compat32).parsebytes(raw)]
    while pending:
        part = pending.pop()
        if part.get_content_maintype() == "message":
            out.append(None)
        elif part.is_multipart():
            pending.extend(reversed(part.get_payload()))
        else:
            out.append(part.get_payload(decode=True))
    return out


@pytest.mark.parametrize("serialise", sorted(_SERIALISERS))
@pytest.mark.parametrize("build", ALL_BUILDERS, ids=lambda b: b.__name__)
def test_fast_path_matches_stdlib(build: Callable[[], EmailMessage], serialise: str) -> None:
    raw = _SERIALISERS[serialise](build())
    fast = parse(raw)
    assert fast.parser == "fast", fast.defects
    assert fast.defects == []
    slow = assign_kinds(*stdlib_leaves(raw, []))

    def describe(p):  # type: ignore[no-untyped-def]
        return (p.part_id, p.kind, p.content_type, p.charset, p.filename, p.content_id, p.disposition, p.encoding)

    assert [describe(p) for p in fast.parts] == [describe(p) for p in slow]
    for fast_part, slow_part in zip(fast.parts, slow, strict=True):
        fast_bytes = decode(raw[fast_part.start : fast_part.end], fast_part.encoding)
        if fast_part.content_type == "message/rfc822":
            inner_fast, inner_slow = parse(fast_bytes), parse(slow_part.data or b"")
            assert inner_fast.subject == inner_slow.subject != ""
            assert [describe(p) for p in inner_fast.parts] == [describe(p) for p in inner_slow.parts]
        else:
            assert fast_bytes == slow_part.data


@pytest.mark.parametrize("serialise", sorted(_SERIALISERS))
@pytest.mark.parametrize("build", ALL_BUILDERS, ids=lambda b: b.__name__)
def test_fast_path_payloads_equal_plain_stdlib(build: Callable[[], EmailMessage], serialise: str) -> None:
    raw = _SERIALISERS[serialise](build())
    fast = parse(raw)
    expected = _stdlib_leaf_payloads(raw)
    got = [None if p.content_type == "message/rfc822" else decode(raw[p.start : p.end], p.encoding) for p in fast.parts]
    assert got == expected
