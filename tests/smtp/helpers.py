"""Helpers for the SMTP tests: a recording ``deliver``, a server on an ephemeral port, smtplib in a thread."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from mailcapture.smtp import Envelope, SMTPConfig, SMTPServer, start_smtp

HOST = "127.0.0.1"
CLIENT_TIMEOUT = 30
T = TypeVar("T")


class Sink:
    """A ``deliver`` that records envelopes, or fails with ``error`` when set."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.error: Exception | None = None

    async def __call__(self, envelope: Envelope) -> None:
        await asyncio.sleep(0)  # a real store awaits too
        if self.error is not None:
            raise self.error
        self.received.append(envelope)

    @property
    def data(self) -> list[bytes]:
        return [e.data for e in self.received]


@asynccontextmanager
async def running(sink: Sink, **config: Any) -> AsyncIterator[SMTPServer]:
    server = await start_smtp(SMTPConfig(host=HOST, port=0, **config), sink)
    try:
        yield server
    finally:
        await server.close()


def connect(port: int) -> smtplib.SMTP:
    return smtplib.SMTP(HOST, port, timeout=CLIENT_TIMEOUT)


async def in_thread(func: Callable[..., T], *args: Any) -> T:
    """Run a blocking client call without blocking the server's event loop."""
    return await asyncio.to_thread(func, *args)


def sendmail(port: int, message: bytes, mail_from: str = "a@example.com",
             rcpt_tos: tuple[str, ...] = ("b@example.com",)) -> dict[str, Any]:
    with connect(port) as client:
        return client.sendmail(mail_from, list(rcpt_tos), message)
