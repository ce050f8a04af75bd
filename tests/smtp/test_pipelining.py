"""PIPELINING (RFC 2920): several commands in one write, and commands right behind the end of DATA."""

from __future__ import annotations

from mailcapture.smtp import SMTPServer
from tests.smtp.helpers import HOST, Sink, in_thread
from tests.smtp.rawclient import RawSMTPClient


def _pipelined_session(port: int) -> list[int]:
    codes = []
    with RawSMTPClient(HOST, port) as client:
        client.send(b"EHLO pipe\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                    b"RCPT TO:<c@example.com>\r\nDATA\r\n")
        codes += [client.read_reply().code for _ in range(5)]
        # End of the first message, then a whole second transaction, in one write.
        client.send(b"first\r\n..dot\r\n.\r\nMAIL FROM:<d@example.com>\r\nRCPT TO:<e@example.com>\r\nDATA\r\n")
        codes += [client.read_reply().code for _ in range(4)]
        client.send(b"second\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        codes += [client.read_reply().code for _ in range(4)]
    return codes


async def test_pipelined_commands_in_one_write(server: SMTPServer, sink: Sink) -> None:
    codes = await in_thread(_pipelined_session, server.port)
    assert codes == [250, 250, 250, 250, 354, 250, 250, 250, 354, 250, 250, 250, 221]
    assert [(e.mail_from, e.rcpt_tos, e.data) for e in sink.received] == [
        ("a@example.com", ["b@example.com", "c@example.com"], b"first\r\n.dot\r\n"),
        ("d@example.com", ["e@example.com"], b"second\r\n"),
    ]


def _empty_then_pipelined(port: int) -> list[int]:
    with RawSMTPClient(HOST, port) as client:
        client.send(b"EHLO pipe\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        codes = [client.read_reply().code for _ in range(4)]
        client.send(b".\r\nQUIT\r\n")
        codes += [client.read_reply().code for _ in range(2)]
    return codes


async def test_empty_message_followed_by_quit_in_the_same_write(server: SMTPServer, sink: Sink) -> None:
    assert await in_thread(_empty_then_pipelined, server.port) == [250, 250, 250, 354, 250, 221]
    assert sink.data == [b""]
