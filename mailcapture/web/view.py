"""``/view/{ID}.html`` and ``/view/{ID}.txt``: a message's body alone, safe to open in a browser."""

from __future__ import annotations

from aiohttp import web

from mailcapture.mime.model import KIND_HTML, KIND_INLINE, KIND_TEXT
from mailcapture.storage.base import MessageDetail
from mailcapture.web.common import ctx_of, detail_or_404
from mailcapture.web.message import body_text

# No scripts, no forms, no plugins, no framing by others; images, styles and fonts may load
# (remote ones too, as in any mail client showing remote content).
HTML_CSP = (
    "default-src 'none'; img-src * data: blob:; style-src * 'unsafe-inline'; font-src * data:; "
    "media-src * data: blob:; script-src 'none'; object-src 'none'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
)
TEXT_CSP = "default-src 'none'; sandbox"


def link_inline_parts(html: str, detail: MessageDetail) -> str:
    """Point ``cid:`` references of the HTML at the API URL of the matching inline part."""
    for part in detail.parts:
        if part.content_id and (part.kind == KIND_INLINE or part.content_type.startswith("image/")):
            html = html.replace(f"cid:{part.content_id}",
                                f"/api/v1/message/{detail.id}/part/{part.part_id}")
    return html


def _secure(resp: web.Response, csp: str) -> web.Response:
    resp.headers["Content-Security-Policy"] = csp
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


async def view_html(request: web.Request) -> web.Response:
    detail = await detail_or_404(request)
    html = await body_text(ctx_of(request), detail, KIND_HTML)
    resp = web.Response(text=link_inline_parts(html, detail), content_type="text/html", charset="utf-8")
    return _secure(resp, HTML_CSP)


async def view_text(request: web.Request) -> web.Response:
    detail = await detail_or_404(request)
    text = await body_text(ctx_of(request), detail, KIND_TEXT)
    return _secure(web.Response(text=text, content_type="text/plain", charset="utf-8"), TEXT_CSP)
