"""Many clients at once: every message arrives intact and with its own envelope."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from mailcapture.smtp import SMTPServer
from tests.smtp.helpers import Sink, connect

CLIENTS = 32


def _client(port: int, n: int, barrier: threading.Barrier) -> None:
    body = f"Subject: client {n}\r\n\r\n".encode() + (f"line of client {n}\r\n".encode() * (n * 500 + 1))
    with connect(port) as client:
        client.ehlo()
        barrier.wait(timeout=30)  # every client is connected before any sends
        client.sendmail(f"c{n}@example.com", [f"r{n}@example.com"], body)


async def test_32_clients_at_once(server: SMTPServer, sink: Sink) -> None:
    barrier = threading.Barrier(CLIENTS)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(CLIENTS) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, _client, server.port, n, barrier) for n in range(CLIENTS)))
    assert len(sink.received) == CLIENTS
    for envelope in sink.received:
        n = int(envelope.mail_from[1:].split("@")[0])
        assert envelope.rcpt_tos == [f"r{n}@example.com"]
        assert envelope.data == f"Subject: client {n}\r\n\r\n".encode() + f"line of client {n}\r\n".encode() * (n * 500 + 1)
    assert len({e.peer for e in sink.received}) == CLIENTS
