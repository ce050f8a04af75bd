"""The floor: a bare asyncio SMTP server that answers 220/250/354 and reads DATA until ``\\r\\n.\\r\\n``,
storing nothing. An ``asyncio.Protocol`` (no StreamReader): commands are split from a small buffer, DATA
bytes are only scanned for the terminator (keeping the last 4 bytes across chunks).

    python bench/sink.py --port 2525 [--host 127.0.0.1]
"""

from __future__ import annotations

import asyncio

import scriptserver

TERMINATOR = b"\r\n.\r\n"
MAX_COMMAND_LINE = 4096
GREETING = b"220 sink.bench ESMTP ready\r\n"
EHLO_REPLY = b"250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 209715200\r\n"


class SinkProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.in_data = False
        self.buf = bytearray()  # command bytes not yet handled
        self.tail = b""  # last bytes of DATA seen, to find a terminator split across chunks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(GREETING)

    def data_received(self, data: bytes) -> None:
        if self.in_data:
            self._data_chunk(data)
        else:
            self.buf += data
            self._commands()

    def _data_chunk(self, data: bytes) -> None:
        window = self.tail + data
        end = window.find(TERMINATOR)
        if end < 0:
            self.tail = window[-(len(TERMINATOR) - 1) :]
            return
        self.in_data = False
        self._write(b"250 OK: message discarded\r\n")
        rest = window[end + len(TERMINATOR) :]
        if rest:
            self.buf += rest
            self._commands()

    def _write(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)

    def _commands(self) -> None:
        while not self.in_data:
            nl = self.buf.find(b"\n")
            if nl < 0:
                if len(self.buf) > MAX_COMMAND_LINE:
                    self._write(b"500 line too long\r\n")
                    self.buf.clear()
                return
            line = bytes(self.buf[:nl]).rstrip(b"\r")
            del self.buf[: nl + 1]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._write(EHLO_REPLY)
            elif verb == b"DATA":
                self.in_data = True
                self.tail = b"\r\n"  # the DATA line's CRLF: an empty body is just ".\r\n"
                self._write(b"354 end with <CRLF>.<CRLF>\r\n")
                if self.buf:
                    pending = bytes(self.buf)
                    self.buf.clear()
                    self._data_chunk(pending)
            elif verb == b"QUIT":
                self._write(b"221 bye\r\n")
                if self.transport is not None:
                    self.transport.close()
                return
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self._write(b"250 OK\r\n")
            else:
                self._write(b"502 command not implemented\r\n")


if __name__ == "__main__":
    scriptserver.main("Bare SMTP sink: answers, stores nothing", SinkProtocol)
