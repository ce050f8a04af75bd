"""Throughput of the SMTP server (a script, not a test: ``python -m tests.smtp.bench_smtp``).

* large: one 37.5 MB message (5 base64 attachments) sent by ``rawclient`` (a separate process,
  writing the dot-stuffed body in 1 MiB chunks) to a server whose ``deliver`` does nothing;
  reports MB/s of the best and median of ``--repeat`` transfers and the server's peak RSS.
* small: ``--small`` messages of 5 kB, one smtplib connection each, from a separate process;
  reports messages/s.

``--stock`` runs the same against stock aiosmtpd (line-by-line DATA) for comparison.
``tests/smtp/test_bench.py`` runs a reduced version as a slow test (no timing assertions).
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import json
import random
import resource
import smtplib
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from mailcapture.smtp import Envelope, SMTPConfig, start_smtp

ATTACHMENTS = 5
LARGE_SIZE = 37_500_000
SMALL_SIZE = 5_000
BASE64_RATIO = 78 / 57  # 57 raw bytes -> 76 base64 characters + CRLF
SEED = 1234


def make_message(total: int, attachments: int = ATTACHMENTS) -> bytes:
    rng = random.Random(SEED)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "bench@example.com"
    msg["To"] = "sink@example.com"
    msg["Subject"] = f"benchmark {total} bytes"
    msg.set_content("Benchmark message.\n")
    raw_each = int(total / attachments / BASE64_RATIO)
    for n in range(attachments):
        msg.add_attachment(rng.randbytes(raw_each), maintype="application", subtype="octet-stream",
                           filename=f"blob{n}.bin")
    return msg.as_bytes()


def small_client(port: int, count: int) -> None:
    """Runs in the client process: ``count`` messages, one connection each."""
    body = b"Subject: small\r\n\r\n" + (b"x" * 76 + b"\r\n") * (SMALL_SIZE // 78)
    for _ in range(count):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail("bench@example.com", ["sink@example.com"], body)


class _StockHandler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


async def _start(stock: bool, max_size: int) -> tuple[Any, int]:
    if stock:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(_StockHandler(), data_size_limit=max_size, hostname="stock", loop=loop),
            host="127.0.0.1", port=0)
        return server, server.sockets[0].getsockname()[1]

    async def deliver(envelope: Envelope) -> None:
        return None

    smtp = await start_smtp(SMTPConfig(port=0, max_message_size=max_size), deliver)
    return smtp, smtp.port


async def _run_client(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"client failed: {args}")
    return out.decode()


async def run(large_size: int, repeat: int, small: int, stock: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"server": "stock aiosmtpd" if stock else "mailcapture"}
    server, port = await _start(stock, max(large_size * 2, 1024 * 1024))
    try:
        if large_size:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "large.eml"
                # Generated in another process so the peak RSS below is the server's own.
                await _run_client("-c", "import sys; from tests.smtp.bench_smtp import make_message; "
                                  f"open(sys.argv[1], 'wb').write(make_message({large_size}))", str(path))
                out = await _run_client("-m", "tests.smtp.rawclient", "--port", str(port), "--message",
                                        str(path), "--repeat", str(repeat))
            large = json.loads(out)
            rates = [large["bytes"] / s / 1e6 for s in large["seconds"]]
            result["large"] = {"bytes": large["bytes"], "repeat": repeat,
                               "best_mb_per_s": round(max(rates), 1),
                               "median_mb_per_s": round(statistics.median(rates), 1)}
        if small:
            start = time.perf_counter()
            await _run_client("-c", f"from tests.smtp.bench_smtp import small_client; small_client({port}, {small})")
            seconds = time.perf_counter() - start
            result["small"] = {"messages": small, "seconds": round(seconds, 2),
                               "messages_per_s": round(small / seconds, 1)}
    finally:
        if stock:
            server.close()
            await server.wait_closed()
        else:
            await server.close()
    result["server_peak_rss_mb"] = round(peak_rss_kib() / 1024, 1)
    return result


def peak_rss_kib() -> int:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux keeps that across execve, so a
    child of a big process (pytest after hundreds of tests) would report its parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large-size", type=int, default=LARGE_SIZE, help="bytes of the large message (0 = skip)")
    parser.add_argument("--repeat", type=int, default=5, help="large transfers (on one connection)")
    parser.add_argument("--small", type=int, default=1000, help="small messages (0 = skip)")
    parser.add_argument("--stock", action="store_true", help="measure stock aiosmtpd instead")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.large_size, args.repeat, args.small, args.stock)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
