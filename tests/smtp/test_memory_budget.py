"""The server-wide SMTP memory budget: a message that does not fit is answered 452, nothing stored."""

from __future__ import annotations

import asyncio
import smtplib

import pytest

from mailcapture.smtp import Envelope, SMTPConfig, start_smtp


async def test_message_over_the_budget_gets_452_and_the_budget_is_given_back() -> None:
    delivered: list[Envelope] = []
    release = asyncio.Event()

    async def deliver(envelope: Envelope) -> None:
        delivered.append(envelope)
        if envelope.data.startswith(b"Subject: hold"):
            await release.wait()  # keeps its bytes reserved while "storing"

    server = await start_smtp(SMTPConfig(port=0, memory_budget=300_000), deliver)
    loop = asyncio.get_running_loop()

    def send(body: bytes) -> str:
        try:
            with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
                client.sendmail("a@example.com", ["b@example.com"], body)
            return "250"
        except smtplib.SMTPDataError as exc:
            return str(exc.smtp_code)

    try:
        holder = loop.run_in_executor(None, send, b"Subject: hold\r\n\r\n" + b"x" * 200_000)
        while not delivered:
            await asyncio.sleep(0.01)
        # 200 kB held; another 200 kB does not fit into 300 kB
        assert await loop.run_in_executor(None, send, b"Subject: second\r\n\r\n" + b"y" * 200_000) == "452"
        assert len(delivered) == 1
        # a small one still fits
        assert await loop.run_in_executor(None, send, b"Subject: small\r\n\r\nhi") == "250"
        release.set()
        assert await holder == "250"
        # everything given back: the big one fits now
        assert await loop.run_in_executor(None, send, b"Subject: again\r\n\r\n" + b"y" * 200_000) == "250"
        assert [e.data.split(b"\r\n", 1)[0] for e in delivered] == [
            b"Subject: hold", b"Subject: small", b"Subject: again"]
    finally:
        release.set()
        await server.close()


def test_budget_must_be_valid() -> None:
    with pytest.raises(ValueError, match="memory_budget"):
        SMTPConfig(memory_budget=-1).validate()
