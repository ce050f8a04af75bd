"""A raw-socket SMTP client that is not itself the bottleneck.

smtplib dot-stuffs line by line with a regular expression and tops out near 90 MB/s here; this client
dot-stuffs once with ``bytes.replace`` (``dot_stuff``), writes the stuffed message in 1 MiB chunks with
``socket.sendall`` and parses replies from a buffer. Blocking sockets: one message at a time per connection,
which is what SMTP does without pipelining anyway.

Library use::

    with RawSmtpClient("127.0.0.1", port) as client:
        client.ehlo()
        timing = client.send(SENDER, RECIPIENTS, dot_stuff(raw))

    result = run_small(host, port, messages, concurrency=1)   # one new connection per message

Script use (127.0.0.1 only)::

    python bench/rawclient.py --port 2525 large --count 3
    python bench/rawclient.py --port 2525 small --count 200 --concurrency 4
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

CHUNK_BYTES = 1 << 20
RECV_BYTES = 64 * 1024
DEFAULT_TIMEOUT_S = 120.0
MAX_REPLY_BYTES = 64 * 1024
EHLO_NAME = "bench.client.test"
MAX_CONCURRENCY = 64


class SmtpReplyError(Exception):
    """The server answered with an unexpected reply code."""

    def __init__(self, stage: str, code: int, text: str) -> None:
        super().__init__(f"{stage}: unexpected reply {code} {text!r}")
        self.stage = stage
        self.code = code
        self.text = text


def require_loopback(host: str) -> None:
    """The benchmark only ever talks to this machine."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from exc
    for addr in addresses:
        if not ipaddress.ip_address(addr.split("%")[0]).is_loopback:
            raise ValueError(f"refusing to send traffic to non-loopback address {addr} ({host})")


def dot_stuff(raw: bytes) -> bytes:
    """RFC 5321 section 4.5.2 transparency plus the terminating ``.``: ready to write after ``354``.

    ``raw`` should use CRLF line endings (bare LF is sent as is). A missing final CRLF is added.
    """
    body = raw if raw.endswith(b"\r\n") or not raw else raw + b"\r\n"
    if body.startswith(b"."):
        body = b"." + body
    return body.replace(b"\r\n.", b"\r\n..") + b".\r\n"


@dataclass(frozen=True)
class MessageTiming:
    size: int  # bytes of the message before stuffing
    seconds: float  # MAIL FROM sent -> final 250 received
    data_seconds: float  # first DATA byte written -> final 250 received

    @property
    def mb_per_s(self) -> float:
        return self.size / 1e6 / self.seconds if self.seconds > 0 else 0.0


class RawSmtpClient:
    """One SMTP connection over a blocking socket."""

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        require_loopback(host)
        self.host = host
        self.port = port
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self.extensions: list[str] = []

    # -- connection ---------------------------------------------------------------------------------------
    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._expect("greeting", (220,))

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def __enter__(self) -> RawSmtpClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sock is not None and exc[0] is None:
            try:
                self.quit()
            except (OSError, SmtpReplyError):
                pass
        self.close()

    # -- protocol -----------------------------------------------------------------------------------------
    def _conn(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionError("not connected")
        return self._sock

    def _read_reply(self) -> tuple[int, list[str]]:
        sock = self._conn()
        lines: list[str] = []
        while True:
            nl = self._buf.find(b"\n")
            while nl < 0:
                if len(self._buf) > MAX_REPLY_BYTES:
                    raise SmtpReplyError("reply", 0, "reply line too long")
                data = sock.recv(RECV_BYTES)
                if not data:
                    raise ConnectionError("server closed the connection")
                self._buf += data
                nl = self._buf.find(b"\n")
            line = bytes(self._buf[: nl + 1]).rstrip(b"\r\n").decode("utf-8", "replace")
            del self._buf[: nl + 1]
            if len(line) < 3 or not line[:3].isdigit():
                raise SmtpReplyError("reply", 0, f"malformed reply line {line!r}")
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), lines
            if len(lines) > 1000:
                raise SmtpReplyError("reply", 0, "too many continuation lines")

    def _expect(self, stage: str, codes: tuple[int, ...]) -> list[str]:
        code, lines = self._read_reply()
        if code not in codes:
            raise SmtpReplyError(stage, code, " ".join(lines))
        return lines

    def command(self, line: str, stage: str, codes: tuple[int, ...] = (250,)) -> list[str]:
        self._conn().sendall(line.encode("utf-8") + b"\r\n")
        return self._expect(stage, codes)

    def ehlo(self, name: str = EHLO_NAME) -> list[str]:
        lines = self.command(f"EHLO {name}", "EHLO")
        self.extensions = [ln.upper() for ln in lines[1:]]
        return lines

    def send(self, sender: str, recipients: Sequence[str], stuffed: bytes | memoryview, size: int = 0) -> MessageTiming:
        """Send one message; ``stuffed`` comes from ``dot_stuff`` (ends with ``.\\r\\n``)."""
        sock = self._conn()
        t0 = time.perf_counter()
        self.command(f"MAIL FROM:<{sender}>", "MAIL")
        for rcpt in recipients:
            self.command(f"RCPT TO:<{rcpt}>", "RCPT", (250, 251))
        self.command("DATA", "DATA", (354,))
        t_data = time.perf_counter()
        view = memoryview(stuffed)
        for start in range(0, len(view), CHUNK_BYTES):
            sock.sendall(view[start : start + CHUNK_BYTES])
        self._expect("end of DATA", (250,))
        t1 = time.perf_counter()
        return MessageTiming(size or len(stuffed), t1 - t0, t1 - t_data)

    def quit(self) -> None:
        self.command("QUIT", "QUIT", (221,))


# -- runs ------------------------------------------------------------------------------------------------------
@dataclass
class LargeRunResult:
    timings: list[MessageTiming] = field(default_factory=list)
    wall_seconds: float = 0.0
    error: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(t.size for t in self.timings)

    @property
    def total_mb_per_s(self) -> float:
        return self.total_bytes / 1e6 / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def median_mb_per_s(self) -> float:
        return statistics.median(t.mb_per_s for t in self.timings) if self.timings else 0.0


def run_large(
    host: str,
    port: int,
    count: int,
    message: Callable[[int], tuple[bytes, int]],
    sender: str,
    recipients: Sequence[str],
    deadline_s: float,
) -> LargeRunResult:
    """``count`` messages sequentially over ONE connection. ``message(i)`` -> (stuffed bytes, unstuffed size).

    Stops early (recording ``error``) on a failure or once ``deadline_s`` has passed.
    """
    result = LargeRunResult()
    end = time.monotonic() + deadline_s
    try:
        with RawSmtpClient(host, port) as client:
            client.ehlo()
            t0 = time.perf_counter()
            for i in range(count):
                stuffed, size = message(i)
                result.timings.append(client.send(sender, recipients, stuffed, size))
                result.wall_seconds = time.perf_counter() - t0
                if time.monotonic() > end:
                    result.error = f"deadline of {deadline_s:.0f} s reached after {i + 1} messages"
                    break
    except (OSError, SmtpReplyError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


@dataclass
class SmallRunResult:
    sent: int = 0
    failed: int = 0
    wall_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # first few only

    @property
    def messages_per_s(self) -> float:
        return self.sent / self.wall_seconds if self.wall_seconds > 0 else 0.0


MAX_KEPT_ERRORS = 5


def _send_one_new_connection(
    host: str, port: int, sender: str, recipients: Sequence[str], stuffed: bytes, timeout: float
) -> float:
    t0 = time.perf_counter()
    with RawSmtpClient(host, port, timeout) as client:
        client.ehlo()
        client.send(sender, recipients, stuffed)
    return time.perf_counter() - t0


def run_small(
    host: str,
    port: int,
    messages: Sequence[bytes],
    sender: str,
    recipients: Sequence[str],
    concurrency: int = 1,
    reuse_connection: bool = False,
    deadline_s: float = 300.0,
    timeout: float = 30.0,
) -> SmallRunResult:
    """Send already-stuffed ``messages``: one NEW connection each (connect, EHLO, MAIL, RCPT, DATA, QUIT),
    from ``concurrency`` threads; or all over one connection with ``reuse_connection``.
    Bounded by ``len(messages)`` and ``deadline_s``.
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}, got {concurrency}")
    result = SmallRunResult()
    lock = threading.Lock()
    next_index = iter(range(len(messages)))
    end = time.monotonic() + deadline_s

    def record(latency: float | None, error: str | None) -> None:
        with lock:
            if error is None and latency is not None:
                result.sent += 1
                result.latencies.append(latency)
            else:
                result.failed += 1
                if len(result.errors) < MAX_KEPT_ERRORS and error:
                    result.errors.append(error)

    def take() -> int | None:
        with lock:
            if time.monotonic() > end:
                return None
            return next(next_index, None)

    def worker() -> None:
        while (i := take()) is not None:
            try:
                record(_send_one_new_connection(host, port, sender, recipients, messages[i], timeout), None)
            except (OSError, SmtpReplyError) as exc:
                record(None, f"message {i}: {type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    if reuse_connection:
        try:
            with RawSmtpClient(host, port, timeout) as client:
                client.ehlo()
                while (i := take()) is not None:
                    record(client.send(sender, recipients, messages[i]).seconds, None)
        except (OSError, SmtpReplyError) as exc:
            record(None, f"{type(exc).__name__}: {exc}")
    elif concurrency == 1:
        worker()
    else:
        threads = [threading.Thread(target=worker, name=f"small-{n}", daemon=True) for n in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(deadline_s + timeout + 5)
    result.wall_seconds = time.perf_counter() - t0
    return result


def main() -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import gen  # noqa: PLC0415 - script-only import of the sibling module

    parser = argparse.ArgumentParser(description="Raw-socket SMTP benchmark client (127.0.0.1 only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    sub = parser.add_subparsers(dest="mode", required=True)
    p_large = sub.add_parser("large", help="N large messages over one connection")
    p_large.add_argument("--count", type=int, default=3)
    p_small = sub.add_parser("small", help="N small messages, one new connection each")
    p_small.add_argument("--count", type=int, default=100)
    p_small.add_argument("--concurrency", type=int, default=1)
    p_small.add_argument("--reuse", action="store_true", help="one connection for all messages")
    args = parser.parse_args()
    require_loopback(args.host)
    if args.mode == "large":
        def make(i: int) -> tuple[bytes, int]:
            raw = gen.large_message(i).raw
            return dot_stuff(raw), len(raw)

        res = run_large(args.host, args.port, args.count, make, gen.SENDER, gen.RECIPIENTS, 600)
        for n, t in enumerate(res.timings):
            print(f"message {n}: {t.size} B in {t.seconds * 1000:.1f} ms = {t.mb_per_s:.1f} MB/s")
        print(f"median {res.median_mb_per_s:.1f} MB/s, total {res.total_mb_per_s:.1f} MB/s (incl. generation)")
        if res.error:
            print("error:", res.error)
    else:
        msgs = [dot_stuff(gen.small_message(i)) for i in range(args.count)]
        res_s = run_small(args.host, args.port, msgs, gen.SENDER, gen.RECIPIENTS, args.concurrency, args.reuse)
        print(f"{res_s.sent} sent, {res_s.failed} failed in {res_s.wall_seconds:.2f} s = {res_s.messages_per_s:.0f}/s")
        for err in res_s.errors:
            print("error:", err)


if __name__ == "__main__":
    main()
