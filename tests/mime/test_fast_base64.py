"""The pybase64 fast path gives exactly binascii's bytes, for regular and irregular input alike."""

from __future__ import annotations

import base64
import binascii
import random

import pytest

from mailcapture.mime import decode, iter_decode
from mailcapture.mime import transfer


def _reference(encoded: bytes) -> bytes:
    """What the lenient decoder answered before the fast path existed."""
    try:
        return binascii.a2b_base64(encoded)
    except (binascii.Error, ValueError):
        decoder = transfer._Base64Decoder()
        saved, transfer._pybase64 = transfer._pybase64, None
        try:
            return decoder.feed(encoded) + decoder.finish()
        finally:
            transfer._pybase64 = saved


def _cases(rng: random.Random) -> list[bytes]:
    cases = []
    for size in (0, 1, 2, 3, 4, 5, 57, 58, 1000, 70_000):
        data = rng.randbytes(size)
        enc = base64.encodebytes(data)
        cases += [enc, enc.replace(b"\n", b"\r\n"), base64.b64encode(data)]
        if enc:
            cut = enc[: rng.randrange(len(enc))]
            cases += [cut, enc.replace(b"=", b""), b"=" + enc, enc + b"garbage==more", enc[:-3] + b"*@!" + enc[-3:]]
    cases += [b"QR==", b"QUI=", b"QUJ", b"Q", b"====", b"QUJD\r\n=\r\nRUZH", b"Q U J D", b"\xff\xfeQUJD"]
    return cases


@pytest.mark.skipif(transfer._pybase64 is None, reason="pybase64 not installed")
def test_decode_matches_binascii_on_regular_and_broken_input() -> None:
    rng = random.Random(7)
    for enc in _cases(rng):
        assert decode(enc, "base64") == _reference(enc), enc[:60]


@pytest.mark.skipif(transfer._pybase64 is None, reason="pybase64 not installed")
def test_streaming_matches_whole_decode_with_the_fast_path() -> None:
    rng = random.Random(11)
    for enc in _cases(rng):
        cuts = sorted(rng.sample(range(len(enc) + 1), min(5, len(enc) + 1)))
        chunks = [enc[a:b] for a, b in zip([0, *cuts], [*cuts, len(enc)])]
        assert b"".join(iter_decode(chunks, "base64")) == decode(enc, "base64"), enc[:60]
