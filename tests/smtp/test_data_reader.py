"""The chunked DATA reader against a real ``asyncio.StreamReader``, at every chunk split."""

from __future__ import annotations

import asyncio
import random

import pytest

from mailcapture.smtp.dataread import ConnectionLostInData, read_data, unstuff
from tests.smtp.rawclient import dot_stuff

NEXT_COMMAND = b"MAIL FROM:<next@example.com>\r\n"
BIG = 10**9


def reference_unstuff(stream: bytes) -> bytes:
    """Line-by-line RFC 5321 4.5.2, the slow obvious way: the oracle for the fast path."""
    lines = []
    for line in stream.split(b"\r\n"):
        if line == b".":
            break
        lines.append(line[1:] if line.startswith(b".") else line)
    return b"".join(line + b"\r\n" for line in lines)


SAMPLES = {
    "empty": b"",
    "one line": b"hello\r\n",
    "empty line": b"\r\n",
    "leading dots": b".hidden\r\n..two\r\n...three\r\nend\r\n",
    "first line dot": b".\r\nafter a line that is just a dot\r\n",
    "lone dot lines": b"a\r\n.\r\nb\r\n.\r\n.\r\n",
    "dot at the end": b"x\r\n.\r\n",
    "no final crlf": b"Subject: x\r\n\r\nno newline at the end",
    "bare cr and lf": b"a\rb\nc\n.d\r.e\r\n\r\n.\r\r\n",
    "binary": bytes(range(256)) * 3,
    "crlf dot crlf inside": b"a\r\n.\r\n.\r\nb\r\n",
}


def feed(stream: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(stream)
    reader.feed_eof()
    return reader


@pytest.mark.parametrize("name", list(SAMPLES))
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 5, 6, 7, 64, 1 << 20])
async def test_every_split_gives_the_message_and_leaves_the_next_command(name: str, chunk_size: int) -> None:
    message = SAMPLES[name]
    stuffed = dot_stuff(message)
    expected = message if message.endswith(b"\r\n") or not message else message + b"\r\n"
    assert reference_unstuff(stuffed) == expected
    reader = feed(stuffed + NEXT_COMMAND)
    assert await read_data(reader, BIG, chunk_size=chunk_size) == expected
    assert await reader.read() == NEXT_COMMAND


async def test_empty_message_is_just_the_dot_line() -> None:
    reader = feed(b".\r\n" + NEXT_COMMAND)
    assert await read_data(reader, BIG) == b""
    assert await reader.readline() == NEXT_COMMAND


async def test_random_streams_match_the_line_by_line_oracle() -> None:
    rng = random.Random(7)
    alphabet = [b"\r\n", b".", b"\r", b"\n", b"a", b"..", b"\r\n."]
    for _ in range(300):
        message = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        stuffed = dot_stuff(message)
        chunk = rng.choice([1, 2, 3, 5, 8, 1 << 20])
        reader = feed(stuffed + NEXT_COMMAND)
        assert await read_data(reader, BIG, chunk_size=chunk) == reference_unstuff(stuffed), message
        assert await reader.read() == NEXT_COMMAND


async def test_huge_line_spanning_many_chunks() -> None:
    message = b"Subject: long\r\n\r\n" + b"y" * 3_000_000 + b"\r\n.dot\r\n" + b"z" * 1_000_001
    reader = feed(dot_stuff(message) + NEXT_COMMAND)
    assert await read_data(reader, BIG, chunk_size=65536) == message + b"\r\n"
    assert await reader.read() == NEXT_COMMAND


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 1 << 20])
async def test_size_limit_is_exact_and_the_stream_stays_in_sync(chunk_size: int) -> None:
    limit = 40
    at_limit = b"x" * (limit - 2) + b"\r\n"
    over = b"x" * (limit - 1) + b"\r\n"
    reader = feed(dot_stuff(at_limit) + dot_stuff(over) + dot_stuff(b"." * 200) + NEXT_COMMAND)
    assert await read_data(reader, limit, chunk_size=chunk_size) == at_limit
    assert await read_data(reader, limit, chunk_size=chunk_size) is None
    assert await read_data(reader, limit, chunk_size=chunk_size) is None
    assert await reader.read() == NEXT_COMMAND


async def test_over_the_limit_nothing_is_kept() -> None:
    """A 20 MB body over a 1 kB limit: drained chunk by chunk, the result is None."""
    message = (b"z" * 998 + b"\r\n") * 20_000
    reader = feed(dot_stuff(message) + NEXT_COMMAND)
    assert await read_data(reader, 1024) is None
    assert await reader.read() == NEXT_COMMAND


@pytest.mark.parametrize("stream", [b"", b"partial body\r\n", b"partial\r\n."])
async def test_end_of_stream_before_the_terminator(stream: bytes) -> None:
    with pytest.raises(ConnectionLostInData):
        await read_data(feed(stream), BIG)


async def test_progress_callback_runs_per_chunk() -> None:
    calls = []
    reader = feed(dot_stuff(b"a" * 100))
    await read_data(reader, BIG, on_progress=lambda: calls.append(1), chunk_size=10)
    assert len(calls) == len(dot_stuff(b"a" * 100)) // 10 + 1


def test_unstuff_first_line_and_others() -> None:
    assert unstuff(b"..a\r\n..b\r\nc\r\n") == b".a\r\n.b\r\nc\r\n"
    assert unstuff(b"plain\r\n") == b"plain\r\n"


class RecordingSink:
    """A sink that keeps every segment as written (to check streaming, not just the result)."""

    def __init__(self) -> None:
        self.segments: list[bytes | memoryview] = []
        self.aborted = 0
        self.finished = 0

    def write(self, data: bytes | memoryview) -> None:
        self.segments.append(data)

    def finish(self) -> bytes:
        self.finished += 1
        return b"".join(self.segments)

    def abort(self) -> None:
        self.aborted += 1
        self.segments.clear()


async def test_the_body_streams_to_the_sink_as_it_arrives() -> None:
    rng = random.Random(11)
    message = b"Subject: s\r\n\r\n.dot line\r\n" + b"".join(
        rng.choice([b"A" * 76 + b"\r\n", b"..x\r\n", b"\r\n", b"."]) for _ in range(20_000))
    sink = RecordingSink()
    reader = feed(dot_stuff(message) + NEXT_COMMAND)
    result = await read_data(reader, BIG, chunk_size=4096, sink=sink)
    expected = message if message.endswith(b"\r\n") else message + b"\r\n"
    assert result == expected == reference_unstuff(dot_stuff(message))
    assert len(sink.segments) > 100 and sink.finished == 1 and sink.aborted == 0
    assert await reader.read() == NEXT_COMMAND


async def test_a_chunk_without_a_period_is_passed_on_uncopied() -> None:
    sink = RecordingSink()
    body = (b"QUJD" * 19 + b"\r\n") * 1000
    await read_data(feed(body + b".\r\n"), BIG, chunk_size=1 << 20, sink=sink)
    assert isinstance(sink.segments[0], memoryview)


async def test_the_sink_is_aborted_over_the_limit_and_when_the_client_goes() -> None:
    sink = RecordingSink()
    assert await read_data(feed(dot_stuff(b"x" * 5000) + NEXT_COMMAND), 1000, chunk_size=512, sink=sink) is None
    assert sink.aborted >= 1 and sink.finished == 0 and not sink.segments
    sink = RecordingSink()
    with pytest.raises(ConnectionLostInData):
        await read_data(feed(b"half a body\r\n"), BIG, sink=sink)
    assert sink.aborted == 1 and sink.finished == 0
