"""The command line and lifetime shared by the benchmark's stand-alone SMTP servers (sink.py,
stock_aiosmtpd.py): ``--host/--port``, serve until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable

DEFAULT_PORT = 2525


async def serve(factory: Callable[[], asyncio.Protocol], host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host, port, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(description: str, factory: Callable[[], asyncio.Protocol]) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    asyncio.run(serve(factory, args.host, args.port))
