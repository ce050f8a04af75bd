"""The aiosmtpd ``SMTP`` subclass: chunked DATA, delivery, recipient limit, AUTH switches."""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as AioEnvelope
from aiosmtpd.smtp import Session, syntax

from mailcapture.smtp import status
from mailcapture.smtp.auth import Authenticator, username_of
from mailcapture.smtp.dataread import (
    READ_BUFFER_LIMIT,
    BodySink,
    ConnectionLostInData,
    OverMemoryBudget,
    read_data,
)
from mailcapture.smtp.types import Deliver, Envelope, SinkFactory

if TYPE_CHECKING:
    from mailcapture.smtp.server import Registry

log = logging.getLogger(__name__)

GREETING_IDENT = "ESMTP mailcapture"
IDLE_TIMEOUT = 300.0  # seconds without a command (or a DATA chunk) before the server hangs up
# aiosmtpd's limit for one command line; EHLO raises MAIL's by the SIZE and SMTPUTF8 parameters.
COMMAND_SIZE_LIMIT = SMTP.command_size_limit
NULL_REVERSE_PATH = "<>"  # what aiosmtpd keeps for MAIL FROM:<>


class Hooks:
    """aiosmtpd handler hooks (the parts of the conversation not done in the subclass)."""

    def __init__(self, auth_enabled: bool) -> None:
        self._auth_enabled = auth_enabled

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: AioEnvelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname  # a new-style EHLO hook must do this itself
        lines = [r for r in responses if self._auth_enabled or not r.startswith(status.EHLO_AUTH_PREFIX)]
        # aiosmtpd handles pipelined commands (it reads them one by one) but does not say so.
        lines.insert(len(lines) - 1, status.EHLO_PIPELINING)
        return lines


def envelope_sender(mail_from: str | None) -> str:
    """The MAIL FROM address; "" for the null reverse-path ``<>`` of bounces and notifications."""
    return "" if not mail_from or mail_from == NULL_REVERSE_PATH else mail_from


def format_peer(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer or "")


class CaptureSMTP(SMTP):
    def __init__(
        self,
        *,
        deliver: Deliver,
        sink_factory: SinkFactory | None = None,
        registry: Registry,
        hostname: str,
        max_message_size: int,
        max_recipients: int,
        authenticator: Authenticator | None,
        auth_require: bool,
        tls_context: ssl.SSLContext | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        # aiosmtpd keeps these limits in a class-wide dict that every EHLO grows; keep ours per
        # connection.
        self.command_size_limits = collections.defaultdict(lambda: COMMAND_SIZE_LIMIT)
        super().__init__(
            Hooks(auth_enabled=authenticator is not None),
            data_size_limit=max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=hostname,
            ident=GREETING_IDENT,
            tls_context=tls_context,
            timeout=IDLE_TIMEOUT,
            # AUTH without TLS is allowed on purpose (a local development tool; see auth.py).
            auth_require_tls=False,
            authenticator=authenticator,
            loop=loop,
        )
        self._deliver = deliver
        self._sink_factory = sink_factory
        self._registry = registry
        self._reserved = 0  # bytes of the server-wide memory budget this connection holds
        self._refused = False
        self._max_message_size = max_message_size
        self._max_recipients = max_recipients
        self._auth_enabled = authenticator is not None
        self._must_authenticate = auth_require and authenticator is not None

    # -- connection bookkeeping -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self._handler_coroutine is None  # it is called again after STARTTLS
        if first and self._registry.full():
            # Refused before aiosmtpd sets anything up; connection_lost below skips it too.
            self._refused = True
            log.warning("refusing a connection: %d clients connected", len(self._registry.connections))
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(status.TOO_MANY_CONNECTIONS.encode() + b"\r\n")
            transport.close()
            return
        super().connection_made(transport)
        if first and self._handler_coroutine is not None:
            self._handler_coroutine.add_done_callback(_retrieve)
        self._registry.add_connection(self)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self._registry.discard_connection(self)
        super().connection_lost(error)
        # StreamReaderProtocol keeps the error in a future nobody awaits (aiosmtpd passes its
        # TLSSetupException here after a failed STARTTLS); mark it seen so no "never retrieved".
        closed: asyncio.Future[None] | None = getattr(self, "_closed", None)
        if closed is not None and closed.done() and not closed.cancelled():
            closed.exception()

    def close(self) -> None:
        """Hang up (used when the server shuts down)."""
        if self.transport is not None:
            self.transport.close()

    @property
    def handler_task(self) -> asyncio.Task[None] | None:
        return self._handler_coroutine

    @property
    def uses_tls(self) -> bool:
        return self._tls_protocol is not None and self._tls_handshake_okay

    # -- commands ------------------------------------------------------------------------------
    async def check_auth_needed(self, caller_method: str) -> bool:
        assert self.session is not None
        if self._must_authenticate and not self.session.authenticated:
            await self.push(status.AUTH_REQUIRED)
            return True
        return False

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        if not self._auth_enabled:
            await self.push(status.AUTH_NOT_ENABLED)
            return
        await super().smtp_AUTH(arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        assert self.envelope is not None
        if len(self.envelope.rcpt_tos) >= self._max_recipients:
            await self.push(status.TOO_MANY_RECIPIENTS)
            return
        await super().smtp_RCPT(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None and self.session is not None
        if not self.envelope.rcpt_tos:
            await self.push(status.NEED_RCPT)
            return
        if arg:
            await self.push(status.SYNTAX_DATA)
            return
        await self.push(status.DATA_GO_AHEAD)
        self._reserved = 0
        try:
            await self._receive_and_deliver()
        finally:
            self._registry.release(self._reserved)
            self._reserved = 0

    def _reserve(self, n: int) -> bool:
        if not self._registry.reserve(n):
            return False
        self._reserved += n
        return True

    async def _receive_and_deliver(self) -> None:
        assert self.envelope is not None and self.session is not None
        sink = self._sink_factory() if self._sink_factory is not None else None
        try:
            data = await self._read_body(sink)
        except ConnectionLostInData:
            log.info("%s: connection lost during DATA", format_peer(self.session.peer))
            self.close()
            return
        except OverMemoryBudget as exc:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            log.warning("%s: %s (SMTP memory budget %d bytes in use of %d)", format_peer(self.session.peer),
                        exc, self._registry.memory_used, self._registry.memory_budget)
            await self.push(status.INSUFFICIENT_STORAGE)
            return
        received = self.envelope
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        if data is None:
            log.info("%s: message over %d bytes refused", format_peer(self.session.peer),
                     self._max_message_size)
            await self.push(status.MESSAGE_TOO_BIG)
            return
        envelope = Envelope(
            mail_from=envelope_sender(received.mail_from),
            rcpt_tos=list(received.rcpt_tos),
            data=data,
            username=username_of(self.session),
            peer=format_peer(self.session.peer),
            tls=self.uses_tls,
            sink=sink,
        )
        del data
        await self.push(await self._hand_over(envelope))

    async def _read_body(self, sink: BodySink | None) -> bytes | None:
        """The unstuffed body, or ``None`` when it is over the size limit."""
        reader = self._reader
        # The reader's limit (aiosmtpd sets it to the 1001-byte line limit) also decides how much
        # it buffers before pausing the socket; let it buffer more while the body streams in.
        saved_limit = reader._limit  # type: ignore[attr-defined]
        reader._limit = max(saved_limit, READ_BUFFER_LIMIT)  # type: ignore[attr-defined]
        try:
            return await read_data(reader, self._max_message_size, self._reset_timeout, reserve=self._reserve,
                                   sink=sink)
        finally:
            reader._limit = saved_limit  # type: ignore[attr-defined]

    async def _hand_over(self, envelope: Envelope) -> str:
        """Deliver; the reply is 250 only once ``deliver`` returned."""
        try:
            delivery = self._registry.start_delivery(self._deliver(envelope))
        except Exception:  # a deliver that is not a coroutine function may raise right here
            log.exception("%s: delivery failed", envelope.peer)
            return status.DELIVERY_FAILED
        try:
            # Shielded: a client hanging up after the end of DATA does not cut a store in half.
            await asyncio.shield(delivery)
        except asyncio.CancelledError:
            delivery.add_done_callback(_log_orphan_failure)
            raise
        except Exception:
            log.exception("%s: delivery failed", envelope.peer)
            return status.DELIVERY_FAILED
        return status.OK


def _log_orphan_failure(task: asyncio.Future[None]) -> None:
    """A delivery whose client went away: nobody else will report its failure."""
    if not task.cancelled() and task.exception() is not None:
        log.error("delivery failed after the client went away", exc_info=task.exception())


def _retrieve(task: asyncio.Task[None]) -> None:
    # aiosmtpd's connection task ends with ConnectionResetError when a client resets the
    # connection; nobody awaits it, so mark the exception as seen (aiosmtpd already logged it).
    if not task.cancelled():
        task.exception()
