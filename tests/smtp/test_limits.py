"""Size limit (552, nothing delivered, also when SIZE= lies or is missing) and recipient limit (452)."""

from __future__ import annotations

import smtplib

import pytest

from tests.smtp.helpers import HOST, Sink, connect, in_thread, running, sendmail
from tests.smtp.rawclient import RawSMTPClient, dot_stuff, expect

LIMIT = 10_000


async def test_smtplib_announces_size_and_gets_552_at_mail(sink: Sink) -> None:
    async with running(sink, max_message_size=LIMIT) as server:
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            await in_thread(sendmail, server.port, b"x" * (LIMIT + 1))
    assert info.value.smtp_code == 552
    assert sink.received == []


def _body_then_small(port: int, size_param: str, body_size: int) -> tuple[int, int]:
    """A message of ``body_size`` bytes (MAIL with ``size_param``), then a small one."""
    with RawSMTPClient(HOST, port) as client:
        expect(client.command("EHLO x"), 250)
        expect(client.command(f"MAIL FROM:<a@example.com>{size_param}"), 250)
        expect(client.command("RCPT TO:<b@example.com>"), 250)
        expect(client.command("DATA"), 354)
        big = client.send_body(dot_stuff((b"." + b"y" * 76 + b"\r\n") * (body_size // 79)), 65536).code
        small = client.sendmail("a@example.com", ["b@example.com"], b"small\r\n", ehlo=False).code
    return big, small


@pytest.mark.parametrize("size_param", ["", " SIZE=100"], ids=["no SIZE", "lying SIZE"])
async def test_too_much_data_gets_552_after_the_body_and_the_session_goes_on(sink: Sink, size_param: str) -> None:
    async with running(sink, max_message_size=LIMIT) as server:
        assert await in_thread(_body_then_small, server.port, size_param, 50 * LIMIT) == (552, 250)
    assert sink.data == [b"small\r\n"]


async def test_a_message_of_exactly_the_limit_is_accepted(sink: Sink) -> None:
    exact = b"z" * (LIMIT - 2) + b"\r\n"
    async with running(sink, max_message_size=LIMIT) as server:
        await in_thread(sendmail, server.port, exact)
        with pytest.raises(smtplib.SMTPSenderRefused):
            await in_thread(sendmail, server.port, b"z" + exact)
    assert sink.data == [exact]


def _rcpt_codes(port: int, count: int) -> list[int]:
    with connect(port) as client:
        client.ehlo()
        client.mail("a@example.com")
        codes = [client.rcpt(f"r{n}@example.com")[0] for n in range(count)]
        codes.append(client.data(b"to many\r\n")[0])
    return codes


async def test_recipients_over_the_limit_get_452(sink: Sink) -> None:
    async with running(sink, max_recipients=3) as server:
        assert await in_thread(_rcpt_codes, server.port, 5) == [250, 250, 250, 452, 452, 250]
    [envelope] = sink.received
    assert envelope.rcpt_tos == ["r0@example.com", "r1@example.com", "r2@example.com"]
