"""Stock aiosmtpd (its line-by-line DATA reader) with a handler that stores nothing: shows what the chunked
DATA reader of ``mailcapture`` gains. Opt-in benchmark target ``aiosmtpd``.

    python bench/stock_aiosmtpd.py --port 2525 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiosmtpd.smtp import SMTP, Envelope, Session

NO_SIZE_LIMIT = 0


class Discard:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        return "250 OK: message discarded"


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    handler = Discard()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=NO_SIZE_LIMIT, hostname="aiosmtpd.bench"), host, port,
        reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Stock aiosmtpd that stores nothing")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
