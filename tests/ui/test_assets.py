"""The inbox's files as served by ``add_ui_routes``: caching, compression, security headers, and a
guard that mail data never reaches the page through HTML parsing of the inbox's own DOM."""

from __future__ import annotations

import gzip
import re
from collections.abc import Awaitable, Callable
from importlib import resources

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailcapture.ui import INDEX_CSP, VERSIONED_CACHE, add_ui_routes
from mailcapture.ui.assets import ASSET_BASE_MARK, bundle_from, load_bundle

STATIC = resources.files("mailcapture.ui") / "static"
ClientMaker = Callable[[web.Application], Awaitable[TestClient]]


@pytest.fixture
async def client(aiohttp_client: ClientMaker) -> TestClient:
    app = web.Application()
    add_ui_routes(app)
    return await aiohttp_client(app)


def _asset_urls(index: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/ui/[^"]+)"', index)


async def test_index_has_security_headers_and_versioned_assets(client: TestClient) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Content-Security-Policy"] == INDEX_CSP
    assert "script-src 'self'" in INDEX_CSP and "frame-ancestors 'none'" in INDEX_CSP
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    index = await resp.text()
    assert ASSET_BASE_MARK not in index
    urls = _asset_urls(index)
    version = load_bundle().version
    assert urls and all(url.startswith(f"/ui/{version}/") for url in urls)
    for url in urls:
        asset = await client.get(url)
        assert asset.status == 200, url
        assert asset.headers["Cache-Control"] == VERSIONED_CACHE


async def test_every_module_import_resolves(client: TestClient) -> None:
    for path in sorted(p.name for p in STATIC.iterdir() if p.name.endswith(".js")):
        text = STATIC.joinpath(path).read_text()
        for target in re.findall(r'from\s+"\./([^"]+)"', text):
            resp = await client.get(f"/ui/{target}")
            assert resp.status == 200, f"{path} imports missing {target}"
            assert resp.headers["Content-Type"].startswith("text/javascript")


async def test_revalidation_and_gzip(client: TestClient) -> None:
    resp = await client.get("/ui/app.css", headers={"Accept-Encoding": "identity"})
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
    body = await resp.read()
    etag = resp.headers["ETag"]
    again = await client.get("/ui/app.css", headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    zipped = await client.get("/ui/app.css", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    raw = await zipped.read()
    assert gzip.decompress(raw) == body and len(raw) < len(body)


@pytest.mark.parametrize("path", [
    "/ui/nope.js", "/ui/../__init__.py", "/ui/%2e%2e/assets.py", "/ui/__init__.py", "/ui/static/app.css",
    "/ui/0123456789ab/app.css/../../assets.py",
])
async def test_unknown_paths_are_404(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404


def test_version_changes_with_content() -> None:
    a = bundle_from({"index.html": b"<script src='{{ASSET_BASE}}x.js'>", "x.js": b"1"})
    b = bundle_from({"index.html": b"<script src='{{ASSET_BASE}}x.js'>", "x.js": b"2"})
    assert a.version != b.version
    assert f"/ui/{a.version}/x.js".encode() in a.index.body
    with pytest.raises(RuntimeError, match="index.html"):
        bundle_from({"x.js": b"1"})


# Building DOM from strings is how mail data would turn into markup in the inbox's own origin.
FORBIDDEN = re.compile(r"\.innerHTML\b|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")
ALLOWED = {("htmlbody.js", "doc.documentElement.outerHTML")}  # serialises the sandboxed srcdoc


def test_no_html_parsing_into_the_inbox_dom() -> None:
    found = []
    for entry in STATIC.iterdir():
        if not entry.name.endswith(".js"):
            continue
        for line in entry.read_text().splitlines():
            if FORBIDDEN.search(line) and not any(entry.name == f and s in line for f, s in ALLOWED):
                found.append(f"{entry.name}: {line.strip()}")
    assert not found, found
