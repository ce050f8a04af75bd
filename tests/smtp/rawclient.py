"""A minimal SMTP client on a raw socket that writes DATA in large chunks (tests and the benchmark).

smtplib stuffs dots with a regex and sends the message in one ``sendall``; this client does the
RFC 5321 transparency itself (a ``.`` is added only at the start of a CRLF-delimited line) and
writes the body in chunks of ``chunk_size`` bytes, like a fast real-world client.

Run as a script it is the sending half of the DATA benchmark (see ``bench_smtp.py``).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from dataclasses import dataclass

CRLF = b"\r\n"
END_OF_DATA = b".\r\n"
DEFAULT_CHUNK = 1024 * 1024
REPLY_CONTINUES = b"-"


@dataclass
class Reply:
    code: int
    lines: list[bytes]

    @property
    def text(self) -> bytes:
        return b"\n".join(self.lines)


def dot_stuff(message: bytes) -> bytes:
    """The DATA body for ``message``: CRLF-terminated, dot-stuffed, followed by ``.CRLF``."""
    if message and not message.endswith(CRLF):
        message += CRLF
    stuffed = (CRLF + message).replace(b"\r\n.", b"\r\n..")[len(CRLF):]
    return stuffed + END_OF_DATA


class RawSMTPClient:
    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self.sock.makefile("rb")
        self.greeting = self.read_reply()

    def close(self) -> None:
        self._file.close()
        self.sock.close()

    def __enter__(self) -> RawSMTPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_reply(self) -> Reply:
        lines: list[bytes] = []
        while True:
            line = self._file.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            lines.append(line[4:].rstrip(CRLF))
            if line[3:4] != REPLY_CONTINUES:
                return Reply(int(line[:3]), lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, line: str | bytes) -> Reply:
        raw = line.encode() if isinstance(line, str) else line
        self.send(raw + CRLF)
        return self.read_reply()

    def send_body(self, body: bytes, chunk_size: int = DEFAULT_CHUNK) -> Reply:
        """Send an already stuffed body (ending in ``.CRLF``) in chunks; return the final reply."""
        view = memoryview(body)
        for start in range(0, len(body), chunk_size):
            self.sock.sendall(view[start:start + chunk_size])
        return self.read_reply()

    def sendmail(self, mail_from: str, rcpt_tos: list[str], message: bytes,
                 chunk_size: int = DEFAULT_CHUNK, ehlo: bool = True) -> Reply:
        """One transaction; raises ``AssertionError`` on an unexpected reply before the body."""
        if ehlo:
            expect(self.command("EHLO rawclient"), 250)
        expect(self.command(f"MAIL FROM:<{mail_from}>"), 250)
        for rcpt in rcpt_tos:
            expect(self.command(f"RCPT TO:<{rcpt}>"), 250)
        expect(self.command("DATA"), 354)
        return self.send_body(dot_stuff(message), chunk_size)


def expect(reply: Reply, code: int) -> Reply:
    if reply.code != code:
        raise AssertionError(f"expected {code}, got {reply.code} {reply.text!r}")
    return reply


def main(argv: list[str] | None = None) -> int:
    """Send one message file N times; print {"bytes", "seconds", "mb_per_s"} as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--message", required=True, help="file with the raw message")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK)
    args = parser.parse_args(argv)
    with open(args.message, "rb") as f:
        body = dot_stuff(f.read())
    timings = []
    with RawSMTPClient(args.host, args.port) as client:
        expect(client.command("EHLO rawclient"), 250)
        for _ in range(args.repeat):
            expect(client.command("MAIL FROM:<bench@example.com>"), 250)
            expect(client.command("RCPT TO:<sink@example.com>"), 250)
            expect(client.command("DATA"), 354)
            start = time.perf_counter()
            expect(client.send_body(body, args.chunk), 250)
            timings.append(time.perf_counter() - start)
        client.command("QUIT")
    best = min(timings)
    json.dump({"bytes": len(body), "seconds": timings, "best_mb_per_s": len(body) / best / 1e6}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
