"""Load the inbox's static files into memory once, with their ETags and gzip forms."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

STATIC_PACKAGE = "mailcapture.ui"
STATIC_DIR = "static"
INDEX_NAME = "index.html"
# index.html names its assets as "{{ASSET_BASE}}app.js"; replaced with "/ui/<version>/".
ASSET_BASE_MARK = "{{ASSET_BASE}}"
VERSION_LENGTH = 12
GZIP_MIN_SIZE = 1024
GZIP_LEVEL = 9

CONTENT_TYPES: dict[str, tuple[str, str | None]] = {
    ".html": ("text/html", "utf-8"),
    ".js": ("text/javascript", "utf-8"),
    ".css": ("text/css", "utf-8"),
    ".svg": ("image/svg+xml", None),
    ".png": ("image/png", None),
    ".ico": ("image/x-icon", None),
    ".json": ("application/json", "utf-8"),
    ".txt": ("text/plain", "utf-8"),
}
COMPRESSIBLE = frozenset({".html", ".js", ".css", ".svg", ".json", ".txt"})


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    charset: str | None
    etag: str
    gzipped: bytes | None


@dataclass(frozen=True, slots=True)
class AssetBundle:
    version: str
    index: Asset
    files: dict[str, Asset]  # path relative to static/ ("js/app.js") -> asset


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def make_asset(name: str, body: bytes) -> Asset:
    suffix = _suffix(name)
    content_type, charset = CONTENT_TYPES.get(suffix, ("application/octet-stream", None))
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    gzipped = None
    if suffix in COMPRESSIBLE and len(body) >= GZIP_MIN_SIZE:
        gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0)
    return Asset(body, content_type, charset, etag, gzipped)


def _walk(root: Traversable, prefix: str = "") -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "__")):
            continue
        path = prefix + entry.name
        if entry.is_dir():
            out.update(_walk(entry, path + "/"))
        elif _suffix(entry.name) in CONTENT_TYPES:
            out[path] = entry.read_bytes()
    return out


def bundle_from(raw: dict[str, bytes]) -> AssetBundle:
    """Build the bundle from ``{relative path: bytes}`` (index.html included)."""
    if INDEX_NAME not in raw:
        raise RuntimeError(f"the inbox is missing its {INDEX_NAME}")
    digest = hashlib.sha256()
    for path in sorted(raw):
        digest.update(path.encode() + b"\0" + hashlib.sha256(raw[path]).digest())
    version = digest.hexdigest()[:VERSION_LENGTH]
    index_body = raw[INDEX_NAME].replace(ASSET_BASE_MARK.encode(), f"/ui/{version}/".encode())
    files = {path: make_asset(path, body) for path, body in raw.items() if path != INDEX_NAME}
    return AssetBundle(version, make_asset(INDEX_NAME, index_body), files)


def load_bundle() -> AssetBundle:
    """Read every shipped static file (small: read once, at startup, before serving)."""
    return bundle_from(_walk(resources.files(STATIC_PACKAGE) / STATIC_DIR))
