"""Self-tests of the benchmark harness (not part of `make test`; run with
`.venv/bin/python -m pytest bench/test_harness.py -q`). Real servers on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

import email
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen  # noqa: E402
import rawclient  # noqa: E402
import report  # noqa: E402
import targets as tg  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402


class _Keep:
    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.contents.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def aiosmtpd_server() -> Iterator[tuple[int, _Keep]]:
    handler = _Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=tg.free_port(), data_size_limit=0)
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tg.RunningTarget]:
    target = tg.start_target(tg.TargetSpec("sink", "sink"), tmp_path)
    try:
        yield target
    finally:
        target.stop()


@pytest.mark.parametrize(
    "raw",
    [
        b".leading\r\n.\r\n..\r\nmiddle\r\n.\r\n",
        b"no final newline",
        b"",
        b"a\r\n.\r\n",
        (b"x" * 900 + b"\r\n.dot\r\n") * 3000,
    ],
)
def test_dot_stuffing_is_byte_exact_through_aiosmtpd(aiosmtpd_server: tuple[int, _Keep], raw: bytes) -> None:
    port, handler = aiosmtpd_server
    with rawclient.RawSmtpClient("127.0.0.1", port) as client:
        client.ehlo()
        timing = client.send(gen.SENDER, gen.RECIPIENTS, rawclient.dot_stuff(raw), len(raw))
    expected = raw if raw.endswith(b"\r\n") or not raw else raw + b"\r\n"
    assert handler.contents == [expected]
    assert timing.seconds >= timing.data_seconds > 0


def test_large_message_is_deterministic_and_parses() -> None:
    a, b, other = gen.large_message(3), gen.large_message(3), gen.large_message(4)
    assert a.raw == b.raw
    assert abs(len(a.raw) - gen.LARGE_TARGET_BYTES) < 0.01 * gen.LARGE_TARGET_BYTES
    assert len(a.raw) == len(other.raw)
    assert all(x.data != y.data for x, y in zip(a.attachments, other.attachments))
    parsed = email.message_from_bytes(a.raw)
    files = [p for p in parsed.walk() if p.get_filename()]
    assert [p.get_filename() for p in files] == [att.filename for att in a.attachments]
    assert all(p.get_payload(decode=True) == att.data for p, att in zip(files, a.attachments))


def test_small_message_size_and_uniqueness() -> None:
    first, second = gen.small_message(0), gen.small_message(1)
    assert len(first) == gen.SMALL_TARGET_BYTES
    assert first != second and first == gen.small_message(0)


def _replies(sock: socket.socket, count: int) -> list[bytes]:
    data = b""
    while data.count(b"\r\n") < count:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data.split(b"\r\n")[:count]


def test_sink_finds_terminator_split_across_writes_and_pipelined_commands(sink: tg.RunningTarget) -> None:
    with socket.create_connection(("127.0.0.1", sink.smtp_port), timeout=5) as s:
        assert _replies(s, 1)[0].startswith(b"220")
        s.sendall(b"HELO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nline\r\n\r")
        assert [r[:3] for r in _replies(s, 4)] == [b"250", b"250", b"250", b"354"]
        s.sendall(b"\n.")
        s.sendall(b"\r")
        s.sendall(b"\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n.\r\nQUIT\r\n")
        assert [r[:3] for r in _replies(s, 6)] == [b"250", b"250", b"250", b"354", b"250", b"221"]


def test_small_run_concurrent_against_sink(sink: tg.RunningTarget) -> None:
    msgs = [rawclient.dot_stuff(gen.small_message(i)) for i in range(40)]
    result = rawclient.run_small("127.0.0.1", sink.smtp_port, msgs, gen.SENDER, gen.RECIPIENTS, concurrency=4)
    assert (result.sent, result.failed) == (40, 0)
    assert result.messages_per_s > 0


def test_large_run_reports_rates(sink: tg.RunningTarget) -> None:
    raw = gen.small_message(0) * 200
    stuffed = rawclient.dot_stuff(raw)
    with tg.RssSampler(sink.pid) as sampler:
        res = rawclient.run_large("127.0.0.1", sink.smtp_port, 3, lambda i: (stuffed, len(raw)), gen.SENDER,
                                  gen.RECIPIENTS, 30)
    assert res.error is None and len(res.timings) == 3
    assert res.total_bytes == 3 * len(raw) and res.median_mb_per_s > 0
    assert sampler.peak > 1_000_000 and sampler.samples >= 1


def test_client_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        rawclient.RawSmtpClient("10.0.0.1", 25)


def test_unexpected_reply_is_an_error_not_a_hang(sink: tg.RunningTarget) -> None:
    with rawclient.RawSmtpClient("127.0.0.1", sink.smtp_port) as client:
        with pytest.raises(rawclient.SmtpReplyError) as info:
            client.command("BDAT 10", "BDAT")
    assert info.value.code == 502


def test_checks_compare_within_each_repeat() -> None:
    def run(name: str, kind: str, level: int | None, repeat: int, rate: float) -> dict[str, object]:
        return {"name": name, "kind": kind, "compression": level, "repeat": repeat,
                "large": {"median_mb_s": rate, "peak_rss": 150_000_000},
                "small": {"msgs_per_s": 350.0, "failed": 0, "peak_rss": 90_000_000}}

    rows = report.checks([
        run("maildev", "maildev", None, 0, 40.0), run("mailcapture-z1", "mailcapture", 1, 0, 130.0),
        run("maildev", "maildev", None, 1, 80.0), run("mailcapture-z1", "mailcapture", 1, 1, 250.0),
        run("mailcapture-z1", "mailcapture", 1, 2, 250.0),  # no MailDev in repeat 2: not compared
    ])
    ratio = next(r for r in rows if r["what"].startswith("large MB/s vs MailDev"))
    assert ratio["ok"] is True and ratio["value"].startswith("3.19x")  # median of 3.25 and 3.125
    assert all(r["ok"] for r in rows)


def test_checks_flag_misses() -> None:
    rows = report.checks([
        {"name": "maildev", "kind": "maildev", "compression": None, "large": {"median_mb_s": 50.0}},
        {"name": "mailcapture-z3", "kind": "mailcapture", "compression": 3,
         "large": {"median_mb_s": 90.0, "peak_rss": 250_000_000}, "small": {"msgs_per_s": 200.0, "failed": 0},
         "fetch": {"p50_ms": 150.0, "error": None}},
    ])
    assert [r["ok"] for r in rows] == [False, False, False, False]
