"""decode / iter_decode: lenient, C-speed, and chunking-invariant."""

from __future__ import annotations

import base64
import binascii
import itertools
import quopri
import random

import pytest

from mailcapture.mime import decode, iter_decode, transfer
from mailcapture.mime.transfer import _QP_MAX_CARRY, _QuotedPrintableDecoder

SEEDS = range(40)


def _chunks(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(len(data) + 1), k=min(len(data) + 1, rng.randint(0, 12))))
    bounds = [0, *cuts, len(data)]
    out = [data[a:b] for a, b in itertools.pairwise(bounds)]
    if rng.random() < 0.3:  # single-byte pieces stress every carry boundary
        out = [data[i : i + 1] for i in range(len(data))]
    return out


def _noisy_base64(rng: random.Random) -> bytes:
    body = base64.encodebytes(rng.randbytes(rng.randint(0, 300)))
    pieces = list(body)
    for _ in range(rng.randint(0, 6)):  # stray characters, padding, truncation, garbage
        where = rng.randint(0, len(pieces))
        pieces[where:where] = list(rng.choice([b"=", b"==", b"!", b"\r\n", b" ", b"A", b"\xff", b"-_"]))
    if pieces and rng.random() < 0.5:
        del pieces[rng.randint(0, len(pieces) - 1) :]
    return bytes(pieces)


def _noisy_qp(rng: random.Random) -> bytes:
    alphabet = [b"=", b"==", b"=\r\n", b"=\n", b"=\r", b"\r", b"\n", b"=4", b"=41", b"=4g", b"a", b"Z", b" ", b"\xe9"]
    return b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))


@pytest.mark.parametrize("seed", SEEDS)
def test_iter_decode_base64_equals_decode_for_any_chunking(seed: int) -> None:
    rng = random.Random(seed)
    data = _noisy_base64(rng)
    expected = decode(data, "base64")
    for _ in range(5):
        assert b"".join(iter_decode(_chunks(data, rng), "base64")) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_iter_decode_qp_equals_decode_for_any_chunking(seed: int) -> None:
    rng = random.Random(seed)
    data = _noisy_qp(rng)
    expected = decode(data, "quoted-printable")
    for _ in range(5):
        assert b"".join(iter_decode(_chunks(data, rng), "quoted-printable")) == expected


def test_iter_decode_qp_long_lines_without_line_feeds() -> None:
    rng = random.Random(7)
    for tail in (b"", b"=", b"==", b"=4", b"=\r", b"==\r", b"===\r"):
        data = b"".join(rng.choice([b"abc", b"=41", b"=", b"= "]) for _ in range(5000)) + tail
        data += b"x" * 9000 + b"=\rskipped" * 500 + b"\nafter"
        expected = decode(data, "quoted-printable")
        assert b"".join(iter_decode(_chunks(data, rng), "quoted-printable")) == expected
        assert b"".join(iter_decode([data[i : i + 100] for i in range(0, len(data), 100)], "qp-unused")) == data


def test_valid_base64_matches_stdlib() -> None:
    payload = random.Random(1).randbytes(10_000)
    encoded = base64.encodebytes(payload)
    assert decode(encoded, "base64") == payload
    assert decode(memoryview(encoded), "BASE64 ") == payload
    assert b"".join(iter_decode([encoded[:333], memoryview(encoded)[333:]], "Base64")) == payload


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (b"QUJD", b"ABC"),
        (b"QUI", b"AB"),  # missing padding
        (b"QQ", b"A"),
        (b"QUJDR", b"ABC"),  # a dangling sixth of a byte is dropped
        (b"Q", b""),
        (b"QU!J*D\r\n", b"ABC"),  # stray characters are skipped
        (b"QQ==QUJD", b"A"),  # decoding stops at the first padded quantum, as binascii does
        (b"", b""),
    ],
)
def test_broken_base64_never_raises(encoded: bytes, expected: bytes) -> None:
    assert decode(encoded, "base64") == expected
    assert b"".join(iter_decode([encoded], "base64")) == expected


def test_quoted_printable() -> None:
    encoded = b"caf=C3=A9 =\r\nsoft break=\nand =3D sign=\r\n"
    assert decode(encoded, "quoted-printable") == quopri.decodestring(encoded)
    assert decode(encoded, "quoted-printable") == "café soft breakand = sign".encode()


@pytest.mark.parametrize("encoding", ["7bit", "8bit", "binary", "x-unknown", ""])
def test_identity_encodings_pass_bytes_through(encoding: str) -> None:
    data = b"=41 QUJD \xff\r\n"
    assert decode(data, encoding) == data
    assert b"".join(iter_decode([data[:3], data[3:]], encoding)) == data


def test_large_base64_roundtrip() -> None:
    payload = random.Random(2).randbytes(3_000_000)
    encoded = binascii.b2a_base64(payload)
    assert decode(encoded, "base64") == payload
    assert b"".join(iter_decode([encoded[i : i + 65536] for i in range(0, len(encoded), 65536)], "base64")) == payload


@pytest.mark.parametrize("filler", [b"x", b"=41", b"=\r", b"= ", b"=", b"==", b"===4", b"=4"])
def test_qp_carry_stays_bounded_without_line_feeds(filler: bytes) -> None:
    decoder = _QuotedPrintableDecoder()
    out = b"".join(decoder.feed(filler * 1000) for _ in range(200)) + decoder.finish()
    assert len(decoder._carry) == 0
    assert out == decode(filler * 200_000, "quoted-printable")


def test_qp_carry_limit_is_respected_mid_stream() -> None:
    decoder = _QuotedPrintableDecoder()
    for _ in range(100):
        decoder.feed(b"abc=41" * 500)
        assert len(decoder._carry) <= _QP_MAX_CARRY


@pytest.mark.parametrize("step", [1, 2, 3, 7, 4097])
def test_qp_long_runs_of_escapes_stay_bounded_and_exact(step: int) -> None:
    rng = random.Random(step)
    data = b"".join(rng.choice([b"=" * rng.randint(1, 9000), b"A", b"4", b"=4", b"=41", b"x"]) for _ in range(40))
    decoder = _QuotedPrintableDecoder()
    out = []
    for i in range(0, len(data), step):
        out.append(decoder.feed(data[i : i + step]))
        assert len(decoder._carry) <= _QP_MAX_CARRY + step
    out.append(decoder.finish())
    assert b"".join(out) == decode(data, "quoted-printable")


def test_qp_cut_logic_exact_with_a_tiny_carry_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the carry limit at 8 bytes nearly every feed goes through the mid-line cut logic."""
    monkeypatch.setattr(transfer, "_QP_MAX_CARRY", 8)
    for seed in range(300):
        rng = random.Random(seed)
        data = _noisy_qp(rng)
        if seed % 2:
            data = data.replace(b"\n", b"")
        assert b"".join(iter_decode(_chunks(data, rng), "quoted-printable")) == decode(data, "quoted-printable")


def _mixed_base64(rng: random.Random, seed: int, most: int) -> bytes:
    """Odd seeds: noisy base64; even ones: regular lines of up to ``most`` bytes; every third with CRLF."""
    encoded = _noisy_base64(rng) if seed % 2 else base64.encodebytes(rng.randbytes(rng.randint(0, most)))
    return encoded.replace(b"\n", b"\r\n") if seed % 3 == 0 else encoded


@pytest.mark.parametrize("seed", range(1000))
def test_decode_range_equals_decode_for_regular_and_noisy_base64(seed: int) -> None:
    """The no-copy path for regular base64 must give decode()'s bytes for any input, or step aside."""
    rng = random.Random(seed)
    encoded = _mixed_base64(rng, seed, 3_000)
    padded = b"HEAD\r\n" + encoded + b"--tail"
    assert transfer.decode_range(padded, 6, 6 + len(encoded), "base64") == decode(encoded, "base64")


@pytest.mark.parametrize("encoded", [
    b"QUJD\r\nQUJD\r\n", b"QQ==\r\n", b"QUI=\r\n", b"QUJD QUJD\r\n", b"QUJD\r\n \r\nQUJD", b"QUJDQUJ=QUJD\r\n",
    b"QQ===\r\n", b"QUJD\rQUJD\n", b"\r\n\r\n", b"", b"QQ==QUJD", b"QU!J*D\r\n", b"QUJ\r\nD", b"Q\r\nQ\r\n==",
    b"QU-D", b"Q_JD", b"QUJD\xff\xfe\x00QUJD", b"QUJD.QUJD", b"QR==", b"QUJ=", b"Q===", b"=QUJD", b"QUJD=\r\n=",
    b"QUJD QU", b"QUJDQ", b"QUJDQU\r\n", bytes(range(256)),
])
def test_decode_range_edge_cases(encoded: bytes) -> None:
    assert transfer.decode_range(encoded, 0, len(encoded), "base64") == decode(encoded, "base64")


def test_decode_range_takes_the_fast_path_for_regular_base64() -> None:
    payload = random.Random(5).randbytes(100_000)
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    assert transfer._decode_regular_base64(encoded, 0, len(encoded)) == payload
    assert transfer._decode_regular_base64(encoded + b"QQ==QUJD", 0, len(encoded) + 8) is None
    assert transfer._decode_regular_base64(encoded + b"-_", 0, len(encoded) + 2) is None


@pytest.mark.parametrize("seed", range(200))
def test_regular_base64_in_pieces_equals_decode_or_says_irregular(seed: int) -> None:
    rng = random.Random(seed)
    encoded = _mixed_base64(rng, seed, 5_000)
    padded = b"HEAD\r\n" + encoded + b"--tail"
    piece = rng.choice([4, 50, 77, 78, 100, 1000])
    try:
        pieces = list(transfer.iter_decode_regular_base64(padded, 6, 6 + len(encoded), piece))
    except transfer.IrregularBase64:
        return
    assert b"".join(pieces) == decode(encoded, "base64")


def test_regular_base64_pieces_are_bounded_and_padding_in_the_middle_is_irregular() -> None:
    payload = random.Random(3).randbytes(200_000)
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    pieces = list(transfer.iter_decode_regular_base64(encoded, 0, len(encoded), 10_000))
    assert b"".join(pieces) == payload and len(pieces) > 10 and max(map(len, pieces)) < 10_000
    joined = b"QQ==\r\n" * 3 + b"QUJD\r\n"
    with pytest.raises(transfer.IrregularBase64):
        list(transfer.iter_decode_regular_base64(joined, 0, len(joined), 4))


@pytest.mark.parametrize("seed", range(150))
def test_streamed_regular_base64_equals_decode_for_any_chunking(seed: int) -> None:
    """The streaming fast path (whole regular lines) and its hand-over to the state machine."""
    rng = random.Random(1000 + seed)
    encoded = base64.encodebytes(rng.randbytes(rng.randint(0, 20_000)))
    if seed % 2:
        encoded = encoded.replace(b"\n", b"\r\n")
    if seed % 5 == 0:  # something irregular somewhere: the rest goes through the state machine
        where = rng.randint(0, len(encoded))
        encoded = encoded[:where] + rng.choice([b" ", b"=", b"==\r\n", b"-", b"\xff", b"AB\r\n"]) + encoded[where:]
    chunks = _chunks(encoded, rng) if seed % 3 else [encoded[i : i + 4096] for i in range(0, len(encoded), 4096)]
    assert b"".join(iter_decode(chunks, "base64")) == decode(encoded, "base64")


def test_streamed_regular_base64_stays_on_the_fast_path() -> None:
    payload = random.Random(9).randbytes(300_000)
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    decoder = transfer._Base64Decoder()
    out = [decoder.feed(encoded[i : i + 65_536]) for i in range(0, len(encoded), 65_536)]
    assert decoder._lines  # never needed the state machine
    assert b"".join(out) + decoder.finish() == payload
