"""Fixtures: a real SMTP server on an ephemeral port and a recording ``deliver``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mailcapture.smtp import SMTPServer
from tests.smtp.helpers import Sink, running


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
async def server(sink: Sink) -> AsyncIterator[SMTPServer]:
    async with running(sink) as srv:
        yield srv
