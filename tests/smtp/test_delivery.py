"""Delivery through a real server with smtplib and the raw-socket client: envelopes, bytes, 451."""

from __future__ import annotations

import asyncio
import base64
import random
import smtplib

import pytest

from mailcapture.smtp import DeliveryError, Envelope, SMTPConfig, SMTPServer, start_smtp
from tests.smtp.helpers import HOST, Sink, connect, in_thread, running, sendmail
from tests.smtp.rawclient import RawSMTPClient, expect

SIMPLE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"


async def test_basic_delivery_fills_the_envelope(server: SMTPServer, sink: Sink) -> None:
    refused = await in_thread(sendmail, server.port, SIMPLE, "from@example.com",
                              ("to1@example.com", "to2@example.com"))
    assert refused == {}
    [envelope] = sink.received
    assert envelope == Envelope(mail_from="from@example.com", rcpt_tos=["to1@example.com", "to2@example.com"],
                                data=SIMPLE, username="", peer=envelope.peer, tls=False)
    host, port = envelope.peer.rsplit(":", 1)
    assert host == HOST and int(port) > 0


def _ehlo_features(port: int) -> dict[str, str]:
    with connect(port) as client:
        client.ehlo()
        return dict(client.esmtp_features)


async def test_ehlo_advertises_extensions_without_auth_when_off(sink: Sink) -> None:
    async with running(sink, max_message_size=12345) as server:
        features = await in_thread(_ehlo_features, server.port)
    assert features["size"] == "12345"
    for keyword in ("8bitmime", "smtputf8", "pipelining"):
        assert keyword in features
    assert "auth" not in features and "starttls" not in features


# name -> (message given to the client, what deliver() must get)
EXACT = {
    "leading dots": b"Subject: dots\r\n\r\n.hidden\r\n..two\r\n...three\r\n.\r\n",
    "lines that are just a dot": b"Subject: dot\r\n\r\n.\r\nmiddle\r\n.\r\n.\r\n",
    "8-bit bytes": b"Subject: 8bit\r\n\r\n" + bytes(range(128, 256)) + b"\r\n\xff\xfe.\r\n",
    "huge line": b"Subject: huge\r\n\r\n" + b"L" * 2_500_000 + b"\r\n.tail\r\n",
}


@pytest.mark.parametrize("name", list(EXACT))
async def test_smtplib_bytes_arrive_exactly(server: SMTPServer, sink: Sink, name: str) -> None:
    await in_thread(sendmail, server.port, EXACT[name])
    assert sink.data == [EXACT[name]]


async def test_final_line_without_crlf_gets_the_crlf_smtplib_adds(server: SMTPServer, sink: Sink) -> None:
    message = b"Subject: x\r\n\r\nno newline at the end"
    await in_thread(sendmail, server.port, message)
    assert sink.data == [message + b"\r\n"]


def _raw_send(port: int, messages: list[bytes], chunk_size: int) -> list[int]:
    with RawSMTPClient(HOST, port) as client:
        codes = [client.sendmail("a@example.com", ["b@example.com"], m, chunk_size=chunk_size, ehlo=(i == 0)).code
                 for i, m in enumerate(messages)]
        expect(client.command("QUIT"), 221)
    return codes


async def test_raw_client_binary_with_bare_cr_lf_and_stuffing(server: SMTPServer, sink: Sink) -> None:
    """Every byte value, bare CR/LF, "\\n." and "\\r\\n.\\r\\n" inside: byte-exact through the server."""
    rng = random.Random(3)
    pieces = [b"\r\n.\r\n", b"\n.", b"\r.", b"\r\n..", b".", b"\r", b"\n", bytes(range(256))]
    messages = [b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 400))) + b"\r\n" for _ in range(20)]
    messages.append(b"")  # DATA followed directly by ".\r\n"
    codes = await in_thread(_raw_send, server.port, messages, 7)
    assert codes == [250] * len(messages)
    assert sink.data == messages


async def test_large_base64_message_in_big_chunks(server: SMTPServer, sink: Sink) -> None:
    blob = base64.encodebytes(random.Random(5).randbytes(6_000_000)).replace(b"\n", b"\r\n")
    message = b"Subject: big\r\nContent-Transfer-Encoding: base64\r\n\r\n" + blob
    codes = await in_thread(_raw_send, server.port, [message], 1 << 20)
    assert codes == [250]
    assert sink.data == [message]


async def test_deliver_raising_gets_451_and_nothing_delivered(server: SMTPServer, sink: Sink,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    sink.error = DeliveryError("disk full")
    with pytest.raises(smtplib.SMTPDataError) as info:
        await in_thread(sendmail, server.port, SIMPLE)
    assert info.value.smtp_code == 451
    error: object = info.value.smtp_error  # bytes at run time (typeshed says str)
    assert isinstance(error, bytes) and error.startswith(b"4.3.0")
    assert sink.received == []
    assert "disk full" in caplog.text


def _fail_then_succeed(port: int, sink: Sink) -> tuple[int, int]:
    with connect(port) as client:
        client.ehlo()
        client.mail("a@example.com")
        client.rcpt("b@example.com")
        first = client.data(b"first\r\n")[0]
        sink.error = None
        client.mail("a@example.com")
        client.rcpt("b@example.com")
        second = client.data(b"second\r\n")[0]
    return first, second


async def test_any_exception_from_deliver_is_451_and_the_session_goes_on(server: SMTPServer, sink: Sink) -> None:
    sink.error = RuntimeError("unexpected bug")
    assert await in_thread(_fail_then_succeed, server.port, sink) == (451, 250)
    assert sink.data == [b"second\r\n"]


def _broken_deliver(envelope: Envelope) -> None:
    raise DeliveryError("not even a coroutine")


@pytest.mark.parametrize("deliver", [_broken_deliver, lambda envelope: None], ids=["raises", "not awaitable"])
async def test_a_broken_deliver_callable_is_451_too(deliver: object) -> None:
    server = await start_smtp(SMTPConfig(host=HOST, port=0), deliver)  # type: ignore[arg-type]
    try:
        with pytest.raises(smtplib.SMTPDataError) as info:
            await in_thread(sendmail, server.port, SIMPLE)
        assert info.value.smtp_code == 451
    finally:
        await server.close()


async def test_250_only_after_deliver_returned(sink: Sink) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow_deliver(envelope: Envelope) -> None:
        entered.set()
        await release.wait()
        await sink(envelope)

    server = await start_smtp(SMTPConfig(host=HOST, port=0), slow_deliver)
    try:
        sending = asyncio.ensure_future(in_thread(sendmail, server.port, SIMPLE))
        await asyncio.wait_for(entered.wait(), 10)
        await asyncio.sleep(0.05)
        assert not sending.done() and sink.received == []
        release.set()
        assert await sending == {}
        assert sink.data == [SIMPLE]
    finally:
        await server.close()


async def test_delivery_finishes_when_the_client_hangs_up_after_the_data(sink: Sink) -> None:
    """The client has sent everything; a store in progress is not cut in half by its going away."""
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow_deliver(envelope: Envelope) -> None:
        entered.set()
        await release.wait()
        await sink(envelope)

    def send_and_hang_up(port: int) -> None:
        with RawSMTPClient(HOST, port) as client:
            expect(client.command("EHLO x"), 250)
            expect(client.command("MAIL FROM:<a@example.com>"), 250)
            expect(client.command("RCPT TO:<b@example.com>"), 250)
            expect(client.command("DATA"), 354)
            client.send(b"bye\r\n.\r\n")

    server = await start_smtp(SMTPConfig(host=HOST, port=0), slow_deliver)
    try:
        await in_thread(send_and_hang_up, server.port)
        await asyncio.wait_for(entered.wait(), 10)
        release.set()
    finally:
        await server.close()  # waits for deliveries in progress
    assert sink.data == [b"bye\r\n"]


async def test_close_hangs_up_on_idle_clients(sink: Sink) -> None:
    async with running(sink) as server:
        client = await in_thread(RawSMTPClient, HOST, server.port)
    try:
        assert client.greeting.code == 220
        with pytest.raises((ConnectionError, OSError)):
            await in_thread(client.command, "NOOP")
    finally:
        client.close()
