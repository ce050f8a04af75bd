"""What the web layer is handed by the service: no globals, one object per running service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from mailcapture.config import Settings
from mailcapture.events import EventBus
from mailcapture.storage.base import Store

# accept(raw, mail_from, rcpt_tos, username) -> new message ID. Parses, stores durably and
# publishes the "new" event; used by SMTP delivery and by POST /api/v1/send alike.
Accept = Callable[[bytes, str, list[str], str], Awaitable[str]]


@dataclass
class Context:
    settings: Settings
    store: Store
    events: EventBus
    accept: Accept
    # Shared client session for calls to the previewer (thumb, /preview/ forwarding, prewarm);
    # None when MAILCAPTURE_PREVIEWER_URL is empty.
    http: aiohttp.ClientSession | None = None

    @property
    def previewer_url(self) -> str:
        return str(self.settings.previewer_url)
