"""Protocol corners: SMTPUTF8 addresses, clients that vanish mid-DATA, peer formatting, HELO."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from mailcapture.smtp import SMTPServer
from mailcapture.smtp.protocol import format_peer
from tests.smtp.helpers import HOST, Sink, connect, in_thread, running, sendmail
from tests.smtp.rawclient import RawSMTPClient, expect

MESSAGE = b"Subject: x\r\n\r\nbody\r\n"


def _utf8_send(port: int) -> None:
    with connect(port) as client:
        client.sendmail("jörg@exämple.com", ["δοκιμή@παράδειγμα.δοκιμή"], "Subject: ü\r\n\r\nüñí\r\n".encode(),
                        mail_options=["SMTPUTF8"])


async def test_smtputf8_addresses(server: SMTPServer, sink: Sink) -> None:
    await in_thread(_utf8_send, server.port)
    [envelope] = sink.received
    assert envelope.mail_from == "jörg@exämple.com"
    assert envelope.rcpt_tos == ["δοκιμή@παράδειγμα.δοκιμή"]
    assert envelope.data == "Subject: ü\r\n\r\nüñí\r\n".encode()


def _vanish_mid_data(port: int, reset: bool) -> None:
    client = RawSMTPClient(HOST, port)
    expect(client.command("EHLO x"), 250)
    expect(client.command("MAIL FROM:<a@example.com>"), 250)
    expect(client.command("RCPT TO:<b@example.com>"), 250)
    expect(client.command("DATA"), 354)
    client.send(b"half a message\r\n" * 10_000)
    if reset:  # RST instead of FIN
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
async def test_client_vanishing_mid_data_delivers_nothing(server: SMTPServer, sink: Sink, reset: bool) -> None:
    await in_thread(_vanish_mid_data, server.port, reset)
    await in_thread(sendmail, server.port, MESSAGE)  # the server carries on
    assert sink.data == [MESSAGE]


def _helo_send(port: int) -> tuple[int, int]:
    with connect(port) as client:
        code = client.helo("old-client")[0]
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        return code, client.noop()[0]


async def test_helo_clients_work_too(server: SMTPServer, sink: Sink) -> None:
    assert await in_thread(_helo_send, server.port) == (250, 250)
    assert sink.data == [MESSAGE]


def _data_errors(port: int) -> list[int]:
    with RawSMTPClient(HOST, port) as client:
        codes = [client.command("MAIL FROM:<a@example.com>").code]  # before EHLO
        expect(client.command("EHLO x"), 250)
        codes.append(client.command("DATA").code)  # before RCPT
        expect(client.command("MAIL FROM:<a@example.com>"), 250)
        expect(client.command("RCPT TO:<b@example.com>"), 250)
        codes.append(client.command("DATA now").code)
        codes.append(client.command("DATA").code)
        client.send(b".\r\n")
        codes.append(client.read_reply().code)
    return codes


async def test_out_of_order_commands(server: SMTPServer, sink: Sink) -> None:
    assert await in_thread(_data_errors, server.port) == [503, 503, 501, 354, 250]
    assert sink.data == [b""]


def _null_sender(port: int) -> int:
    with RawSMTPClient(HOST, port) as client:
        return client.sendmail("", ["b@example.com"], b"Subject: bounce\r\n\r\nundeliverable\r\n").code


async def test_null_reverse_path_is_an_empty_sender(server: SMTPServer, sink: Sink) -> None:
    assert await in_thread(_null_sender, server.port) == 250
    assert [(e.mail_from, e.rcpt_tos) for e in sink.received] == [("", ["b@example.com"])]


@pytest.mark.parametrize(("peer", "text"), [
    (("127.0.0.1", 4321), "127.0.0.1:4321"),
    (("::1", 25, 0, 0), "[::1]:25"),
    (None, ""),
])
def test_format_peer(peer: object, text: str) -> None:
    assert format_peer(peer) == text


def _greeting_codes(port: int, count: int) -> tuple[list[int], int]:
    clients = [RawSMTPClient(HOST, port) for _ in range(count)]
    try:
        codes = [c.greeting.code for c in clients]
    finally:
        for c in clients[1:]:
            c.close()
    # the first one is still connected and still works
    with clients[0] as first:
        return codes, first.command("NOOP").code


async def test_clients_over_max_connections_get_421(sink: Sink) -> None:
    async with running(sink, max_connections=2) as server:
        codes, noop = await in_thread(_greeting_codes, server.port, 3)
        assert codes == [220, 220, 421] and noop == 250
        for _ in range(100):  # the slots come back once the server saw the clients go
            if (await in_thread(_greeting_codes, server.port, 2))[0] == [220, 220]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("connection slots were not released")
        await in_thread(sendmail, server.port, MESSAGE)
    assert sink.data == [MESSAGE]
