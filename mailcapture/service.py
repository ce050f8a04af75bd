"""The composition root: settings -> store -> SMTP + HTTP, plus background pruning and prewarm."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from concurrent.futures import ThreadPoolExecutor

import aiohttp
from aiohttp import web

from mailcapture import ingest
from mailcapture.config import Settings
from mailcapture.context import Context
from mailcapture.events import EVENT_NEW, EVENT_PRUNE, EventBus
from mailcapture.prewarm import Prewarmer
from mailcapture.smtp import BufferSink, Envelope, SMTPConfig, SMTPServer, start_smtp
from mailcapture.storage.base import Intake, MessageSummary, Store
from mailcapture.storage.sqlite import SQLiteStore
from mailcapture.web.app import make_app
from mailcapture.web.json import summary_json

log = logging.getLogger("mailcapture")

# At most this many messages are parsed/hashed at once (each holds its decoded parts in memory).
INGEST_CONCURRENCY = 2
LISTEN_BACKLOG = 1024  # aiohttp's 128 overflows when nginx opens many upstream connections at once
TENANT_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


def open_store(settings: Settings) -> Store:
    """The one place that picks the storage engine from settings."""
    os.makedirs(settings.data_dir, exist_ok=True)
    path = os.path.join(settings.data_dir, settings.db_file)
    return SQLiteStore(path, compression=settings.compression, wal=not settings.disable_wal,
                       tenant_id=settings.tenant_id, decode_parts=settings.decode_parts)


class IntakeSink:
    """An SMTP body sink that buffers the message and feeds the store's intake as it arrives."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self._buffer = BufferSink()

    def write(self, data: bytes | memoryview) -> None:
        self._buffer.write(data)
        self.intake.feed(data)

    def finish(self) -> bytes:
        return self._buffer.finish()

    def abort(self) -> None:
        self._buffer.abort()
        self.intake.abort()


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = open_store(settings)
        self.events = EventBus()
        self._pool = ThreadPoolExecutor(INGEST_CONCURRENCY, thread_name_prefix="ingest")
        self._ingest_slots = asyncio.Semaphore(INGEST_CONCURRENCY)
        self._http: aiohttp.ClientSession | None = None
        self._prewarm: Prewarmer | None = None
        self._runner: web.AppRunner | None = None
        self._smtp: SMTPServer | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._prune_wakeup = asyncio.Event()
        self.http_port = 0
        self.smtp_port = 0

    async def accept(self, raw: bytes, mail_from: str, rcpt_tos: list[str], username: str,
                     intake: Intake | None = None) -> str:
        """Parse (in a thread), store durably, then announce. Raises if not stored.

        ``intake``: the store's intake the raw bytes were already fed to while they arrived (SMTP).
        """
        loop = asyncio.get_running_loop()
        if intake is None:
            intake = self.store.intake()
            intake.feed(raw)
        try:
            async with self._ingest_slots:
                build = loop.run_in_executor(self._pool, ingest.prepare, raw, mail_from, rcpt_tos, username)
                message_id = await intake.add(raw, build)  # the store may compress meanwhile
                message = build.result()
        except BaseException:
            intake.abort()
            raise
        summary = MessageSummary(
            id=message_id, message_id=message.message_id, read=False, from_=message.from_, to=message.to,
            cc=message.cc, bcc=message.bcc, reply_to=message.reply_to, subject=message.subject,
            created=message.created, username=username, tags=message.tags, size=len(raw),
            attachments=ingest.attachment_count(message), snippet=message.snippet,
        )
        self.events.publish(EVENT_NEW, summary_json(summary))
        if self._prewarm is not None:
            self._prewarm.submit([p.record for p in message.parts])
        if self.settings.max_messages:
            self._prune_wakeup.set()
        return message_id

    async def _deliver(self, envelope: Envelope) -> None:
        intake = envelope.sink.intake if isinstance(envelope.sink, IntakeSink) else None
        await self.accept(envelope.data, envelope.mail_from, envelope.rcpt_tos, envelope.username, intake)

    def _body_sink(self) -> IntakeSink:
        return IntakeSink(self.store.intake())

    async def _prune_loop(self) -> None:
        interval = self.settings.prune_interval or 10.0
        while True:
            try:
                await asyncio.wait_for(self._prune_wakeup.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
            self._prune_wakeup.clear()
            if not (self.settings.max_messages or self.settings.max_age):
                continue
            try:
                deleted = await self.store.prune(self.settings.max_messages, self.settings.max_age)
            except Exception:  # keep pruning on later rounds; never affects ingest
                log.exception("pruning failed")
                continue
            if deleted:
                log.info("pruned %d message(s)", len(deleted))
                self.events.publish(EVENT_PRUNE, {"IDs": deleted})
            # wait between rounds even when woken often: pruning is batched, never on the hot path
            await asyncio.sleep(min(1.0, interval))

    async def start(self) -> None:
        await self.store.open()
        if self.settings.previewer_url:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, connect=3))
            self._prewarm = Prewarmer(self._http, self.settings.previewer_url)
            self._prewarm.start()
        ctx = Context(settings=self.settings, store=self.store, events=self.events, accept=self.accept,
                      http=self._http)
        app = make_app(ctx)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        host, port = self.settings.http_addr
        site = web.TCPSite(self._runner, host, port, reuse_address=True, backlog=LISTEN_BACKLOG)
        await site.start()
        server = site._server  # aiohttp keeps the asyncio server here; needed for port 0
        if isinstance(server, asyncio.Server) and server.sockets:
            self.http_port = server.sockets[0].getsockname()[1]
        smtp_host, smtp_port = self.settings.smtp_addr
        self._smtp = await start_smtp(
            SMTPConfig(
                host=smtp_host, port=smtp_port, hostname=self.settings.smtp_hostname,
                max_message_size=self.settings.max_message_size, max_recipients=self.settings.max_recipients,
                auth=self.settings.smtp_auth, auth_file=self.settings.smtp_auth_file,
                auth_require=self.settings.smtp_auth_require, tls_cert=self.settings.smtp_tls_cert,
                tls_key=self.settings.smtp_tls_key, memory_budget=self.settings.smtp_memory_budget,
            ),
            self._deliver,
            self._body_sink,
        )
        self.smtp_port = self._smtp.port
        self._pruner = asyncio.create_task(self._prune_loop(), name="pruner")
        log.info("listening: SMTP %s:%d, HTTP %s:%d", smtp_host, self.smtp_port, host, self.http_port)

    async def stop(self) -> None:
        if self._smtp is not None:
            await self._smtp.close()
        if self._pruner is not None:
            self._pruner.cancel()
            try:
                await self._pruner
            except asyncio.CancelledError:
                pass
        if self._runner is not None:
            await self._runner.cleanup()
        if self._prewarm is not None:
            await self._prewarm.close()
        if self._http is not None:
            await self._http.close()
        await self.store.close()
        self._pool.shutdown(wait=True)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM."""
    service = Service(settings)
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # A line tests and scripts can wait for.
    print(f"mailcapture ready smtp={service.smtp_port} http={service.http_port}", flush=True)
    await stop.wait()
    log.info("stopping")
    await service.stop()
