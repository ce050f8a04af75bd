"""Property tests: random MIME trees and mutations, fast path against the standard library."""

from __future__ import annotations

import email.policy
import random
from email import encoders
from email.charset import BASE64, QP, Charset
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser

import pytest

from mailcapture.mime import decode, parse

from .messages import PNG

SEEDS = range(30)
_SUBTYPES = ("mixed", "alternative", "related")
_WORDS = ("plain", "Grüße", "naïve", "日本語", "=3D", "--", "line\n", "x" * 90, " ", "\t", "é=\n")


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 40)))


def _leaf(rng: random.Random) -> MIMEBase:
    kind = rng.randrange(5)
    if kind == 0:
        charset = Charset("utf-8")
        charset.body_encoding = rng.choice([QP, BASE64])
        return MIMEText(_text(rng), "plain", charset)  # type: ignore[arg-type]
    if kind == 1:
        return MIMEText(f"<p>{_text(rng)}</p>", "html", "utf-8")
    if kind == 2:
        encoder = rng.choice([encoders.encode_base64, encoders.encode_quopri])
        part = MIMEApplication(rng.randbytes(rng.randint(0, 3000)), _encoder=encoder)
        part.add_header("Content-Disposition", "attachment", filename=f"f{rng.randrange(100)}.bin")
        return part
    if kind == 3:
        image = MIMEImage(PNG, "png")
        image.add_header("Content-ID", f"<img{rng.randrange(100)}@x>")
        return image
    return MIMEText(_text(rng).encode("ascii", "replace").decode("ascii"), "plain", "us-ascii")


def _tree(rng: random.Random, depth: int) -> MIMEBase:
    if depth >= 4 or (depth > 0 and rng.random() < 0.4):
        return _leaf(rng)
    node = MIMEMultipart(rng.choice(_SUBTYPES))
    for _ in range(rng.randint(0, 4)):
        node.attach(_tree(rng, depth + 1))
    if rng.random() < 0.3:
        node.preamble = "preamble --not a boundary"
    if rng.random() < 0.3:
        node.epilogue = "epilogue"
    return node


def _random_message(seed: int) -> bytes:
    rng = random.Random(seed)
    root = _tree(rng, 0)
    root["Subject"] = f"random {seed}"
    policy = email.policy.SMTP if rng.random() < 0.5 else email.policy.compat32
    return root.as_bytes(policy=policy)


def _stdlib_payloads(raw: bytes) -> list[bytes]:
    out: list[bytes] = []
    pending = [BytesParser(policy=email.policy.compat32).parsebytes(raw)]
    while pending:
        part = pending.pop()
        if part.is_multipart():
            pending.extend(reversed(part.get_payload()))
        else:
            out.append(part.get_payload(decode=True))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_random_tree_fast_path_equals_stdlib(seed: int) -> None:
    raw = _random_message(seed)
    parsed = parse(raw)
    assert parsed.parser == "fast"
    assert parsed.subject == f"random {seed}"
    got = [decode(raw[p.start : p.end], p.encoding) for p in parsed.parts]
    assert got == _stdlib_payloads(raw)


@pytest.mark.parametrize("seed", SEEDS)
def test_mixed_line_endings_equal_stdlib(seed: int) -> None:
    lines = _random_message(seed).replace(b"\r\n", b"\n").split(b"\n")
    rng = random.Random(seed)
    raw = b"".join(line + rng.choice([b"\n", b"\r\n"]) for line in lines)
    parsed = parse(raw)
    assert parsed.parser == "fast"
    got = [decode(raw[p.start : p.end], p.encoding) for p in parsed.parts]
    assert got == _stdlib_payloads(raw)


def _mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        action = rng.randrange(4)
        where = rng.randint(0, len(data))
        if action == 0:
            del data[where : where + rng.randint(1, 200)]
        elif action == 1:
            data[where:where] = rng.choice([b"\r\n", b"\n\n", b"--", b"=?", b"\x00\xff", b":", b"\r\n\r\n--"])
        elif action == 2:
            data[where:where] = data[rng.randint(0, len(data)) :][: rng.randint(1, 300)]
        else:
            del data[where:]
    return bytes(data)


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_messages_never_break_the_contract(seed: int) -> None:
    rng = random.Random(seed)
    base = _random_message(seed)
    for _ in range(10):
        raw = _mutate(base, rng)
        parsed = parse(raw)
        assert parsed.parser in ("fast", "stdlib", "headers")
        assert 0 <= parsed.header_end <= len(raw)
        ids = [p.part_id for p in parsed.parts]
        assert len(ids) == len(set(ids))
        for part in parsed.parts:
            if part.data is None:
                assert 0 <= part.start <= part.end <= len(raw)
            else:
                assert part.start == part.end == -1
