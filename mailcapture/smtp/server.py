"""Start and stop the SMTP server."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable

from mailcapture.smtp.auth import Authenticator, load_credentials
from mailcapture.smtp.protocol import CaptureSMTP
from mailcapture.smtp.types import AUTH_FILE, AUTH_OFF, Deliver, SinkFactory, SMTPConfig

log = logging.getLogger(__name__)

AIOSMTPD_LOGGER = "mail.log"
CLOSE_TIMEOUT = 10.0  # seconds close() waits for connections and deliveries to finish


class _QuietDeprecatedLoginData(logging.Filter):
    """aiosmtpd logs a deprecation warning for its own use of ``Session.login_data`` on every AUTH."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Session.login_data is deprecated")


def _quiet_aiosmtpd() -> None:
    logger = logging.getLogger(AIOSMTPD_LOGGER)
    if not any(isinstance(f, _QuietDeprecatedLoginData) for f in logger.filters):
        logger.addFilter(_QuietDeprecatedLoginData())
    # aiosmtpd logs every command at INFO; keep that for DEBUG runs only unless set explicitly.
    if logger.level == logging.NOTSET and not log.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.WARNING)


class Registry:
    """Open connections and running deliveries of one server (bounded by the open connections)."""

    def __init__(self, max_connections: int, memory_budget: int = 0) -> None:
        self.max_connections = max_connections
        self.memory_budget = memory_budget  # 0 = no limit
        self.memory_used = 0  # bytes of message data held by all connections (one event loop: no lock)
        self.connections: set[CaptureSMTP] = set()
        self.deliveries: set[asyncio.Future[None]] = set()

    def full(self) -> bool:
        return len(self.connections) >= self.max_connections

    def reserve(self, n: int) -> bool:
        if self.memory_budget and self.memory_used + n > self.memory_budget:
            return False
        self.memory_used += n
        return True

    def release(self, n: int) -> None:
        self.memory_used -= n

    def add_connection(self, conn: CaptureSMTP) -> None:
        self.connections.add(conn)

    def discard_connection(self, conn: CaptureSMTP) -> None:
        self.connections.discard(conn)

    def start_delivery(self, delivery: Awaitable[None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(delivery)
        self.deliveries.add(task)
        task.add_done_callback(self._delivery_done)
        return task

    def _delivery_done(self, task: asyncio.Future[None]) -> None:
        self.deliveries.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here; the connection logs it (or is gone)


class SMTPServer:
    """A running SMTP server; ``port`` is the real bound port."""

    def __init__(self, server: asyncio.Server, registry: Registry) -> None:
        self._server = server
        self._registry = registry
        self.port: int = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening, hang up on every client and wait for deliveries in progress."""
        self._server.close()
        handlers = []
        for conn in list(self._registry.connections):
            if conn.handler_task is not None:
                handlers.append(conn.handler_task)
            conn.close()
        # Connections first (one may still start a delivery as it winds down), then deliveries.
        for pending in (handlers, list(self._registry.deliveries)):
            if pending:
                _, not_done = await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
                if not_done:
                    log.warning("SMTP close: %d tasks still running after %.0f s", len(not_done),
                                CLOSE_TIMEOUT)
        await self._server.wait_closed()


def _tls_context(config: SMTPConfig) -> ssl.SSLContext | None:
    if not (config.tls_cert and config.tls_key):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"cannot load STARTTLS certificate/key: {error}") from error
    return context


def _authenticator(config: SMTPConfig) -> Authenticator | None:
    if config.auth == AUTH_OFF:
        if config.auth_require:
            log.warning("SMTP auth_require ignored: AUTH is off")
        return None
    credentials = load_credentials(config.auth_file) if config.auth == AUTH_FILE else None
    return Authenticator(config.auth, credentials)


async def start_smtp(config: SMTPConfig, deliver: Deliver, sink_factory: SinkFactory | None = None) -> SMTPServer:
    """Listen on ``config.host:config.port``; every accepted message is passed to ``deliver``.

    ``sink_factory`` makes the sink each message body streams into while it arrives (the envelope
    carries it to ``deliver``); by default the body is only buffered.

    Raises ``ValueError`` (with a clear message) for a bad configuration, ``OSError`` when the
    address cannot be bound.
    """
    config.validate()
    authenticator = _authenticator(config)
    tls_context = _tls_context(config)
    _quiet_aiosmtpd()
    loop = asyncio.get_running_loop()
    registry = Registry(config.max_connections, config.memory_budget)

    def factory() -> CaptureSMTP:
        return CaptureSMTP(
            deliver=deliver,
            sink_factory=sink_factory,
            registry=registry,
            hostname=config.hostname,
            max_message_size=config.max_message_size,
            max_recipients=config.max_recipients,
            authenticator=authenticator,
            auth_require=config.auth_require,
            tls_context=tls_context,
            loop=loop,
        )

    server = await loop.create_server(factory, host=config.host, port=config.port)
    smtp = SMTPServer(server, registry)
    log.debug("SMTP listening on %s:%d", config.host, smtp.port)
    return smtp
