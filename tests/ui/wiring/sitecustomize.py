"""Test-only shim, put on PYTHONPATH of a ``mailcapture serve`` subprocess by tests/ui/conftest.py.

It adds the inbox routes (``mailcapture.ui.add_ui_routes``) to the real app when ``make_app`` does
not register ``GET /`` itself yet. Once ``make_app`` wires the inbox, this does nothing.
"""

from __future__ import annotations

from aiohttp import web

import mailcapture.service as _service
from mailcapture.context import Context
from mailcapture.ui import add_ui_routes

_original_make_app = _service.make_app


def _make_app_with_ui(ctx: Context) -> web.Application:
    app = _original_make_app(ctx)
    if not any(resource.canonical == "/" for resource in app.router.resources()):
        add_ui_routes(app)
    return app


_service.make_app = _make_app_with_ui
