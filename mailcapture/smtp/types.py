"""The public types of the SMTP server: what it is configured with and what it delivers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailcapture.smtp.dataread import BodySink

DEFAULT_MAX_MESSAGE_SIZE = 50 * 1024 * 1024
DEFAULT_MAX_RECIPIENTS = 100
DEFAULT_MAX_CONNECTIONS = 1000

AUTH_OFF = "off"
AUTH_ANY = "any"
AUTH_FILE = "file"
AUTH_MODES = (AUTH_OFF, AUTH_ANY, AUTH_FILE)


@dataclass(slots=True)
class Envelope:
    """One received message, handed to :data:`Deliver`."""

    mail_from: str  # "" for the null reverse-path (MAIL FROM:<>)
    rcpt_tos: list[str]
    data: bytes  # the message exactly as received after dot-unstuffing (CRLF line ends kept)
    username: str  # authenticated user name or ""
    peer: str  # "ip:port" ("[ip]:port" for IPv6)
    tls: bool
    sink: BodySink | None = None  # the sink the body streamed into (made by the server's sink factory)


# Makes the sink each DATA body streams into (see ``dataread.BodySink``); by default a plain buffer.
SinkFactory = Callable[[], BodySink]


class DeliveryError(Exception):
    """Raised by a :data:`Deliver` callable when it could not store the message: the client gets 451."""


# Returns only when the message is durably stored; any exception -> 451 and nothing stored.
Deliver = Callable[[Envelope], Awaitable[None]]


@dataclass(slots=True)
class SMTPConfig:
    host: str = "127.0.0.1"
    port: int = 1025  # 0 = an ephemeral port (see SMTPServer.port)
    hostname: str = "mailcapture"
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    auth: str = AUTH_OFF  # "off" | "any" | "file"
    auth_file: str = ""  # lines "user:password"
    auth_require: bool = False  # refuse MAIL before AUTH (ignored, with a warning, when auth is off)
    tls_cert: str = ""  # STARTTLS is offered when both cert and key are set
    tls_key: str = ""
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # more clients at once get "421" and are hung up on
    # Bytes of message data held at once across all connections (reading and delivering); a message
    # that would go past it is read to its end, dropped and answered 452 (retry later). 0 = no limit.
    memory_budget: int = 0

    def validate(self) -> None:
        """Raise ``ValueError`` with a clear message for an unusable configuration."""
        if self.auth not in AUTH_MODES:
            raise ValueError(f"SMTP auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
        if self.auth == AUTH_FILE and not self.auth_file:
            raise ValueError("SMTP auth 'file' needs a credentials file")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("STARTTLS needs both a certificate and a key")
        if self.max_message_size < 1:
            raise ValueError(f"max_message_size must be positive, not {self.max_message_size}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be positive, not {self.max_connections}")
        if self.memory_budget < 0:
            raise ValueError(f"memory_budget must not be negative, not {self.memory_budget}")
        if self.max_recipients < 1:
            raise ValueError(f"max_recipients must be positive, not {self.max_recipients}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"SMTP port out of range: {self.port}")
