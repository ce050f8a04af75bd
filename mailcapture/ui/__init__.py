"""The web inbox: static files shipped in this package, served by the capture service.

No build step: ``static/`` holds plain ES modules, CSS and icons. Everything is read into memory
once (a few tens of KiB) when the routes are added, so serving never touches the disk and a path
can only ever name a file that was shipped (no traversal is possible).

Caching: ``index.html`` links its assets under ``/ui/<version>/`` where ``<version>`` is a hash of
every shipped file, so those are cached for a year as immutable; a new release changes the hash.
The same files are also served under plain ``/ui/<path>`` with revalidation (``no-cache`` + ETag).
"""

from __future__ import annotations

from aiohttp import web

from mailcapture.ui.assets import Asset, AssetBundle, load_bundle

INDEX_CACHE = "no-cache"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "no-cache"

# The inbox's own policy. A srcdoc iframe inherits it, so mail HTML runs under it too (scripts are
# blocked twice: by the iframe sandbox and here). Mail styles are inline, hence 'unsafe-inline' for
# styles; remote images are allowed here and blocked per message by the iframe's own stricter policy
# until the user asks to load them.
INDEX_CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob: http: https:",
    "font-src 'self' data:",
    "media-src 'self'",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": INDEX_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

UI_BUNDLE: web.AppKey[AssetBundle] = web.AppKey("mailcapture_ui_bundle", AssetBundle)


def _respond(request: web.Request, asset: Asset, cache_control: str) -> web.Response:
    headers = {"Cache-Control": cache_control, "ETag": asset.etag, "X-Content-Type-Options": "nosniff"}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    return web.Response(body=body, headers=headers, content_type=asset.content_type, charset=asset.charset)


async def _index(request: web.Request) -> web.Response:
    resp = _respond(request, request.app[UI_BUNDLE].index, INDEX_CACHE)
    resp.headers.update(SECURITY_HEADERS)
    return resp


async def _asset(request: web.Request) -> web.Response:
    bundle = request.app[UI_BUNDLE]
    tail = request.match_info["tail"]
    cache = UNVERSIONED_CACHE
    head, sep, rest = tail.partition("/")
    if sep and head == bundle.version:
        tail, cache = rest, VERSIONED_CACHE
    asset = bundle.files.get(tail)
    if asset is None:
        raise web.HTTPNotFound(text=f"no such file: /ui/{tail}")
    return _respond(request, asset, cache)


def add_ui_routes(app: web.Application) -> None:
    """Register ``GET /`` (the inbox) and ``GET /ui/...`` (its static files) on ``app``."""
    app[UI_BUNDLE] = load_bundle()
    app.router.add_get("/", _index)
    app.router.add_get("/ui/{tail:.+}", _asset)
