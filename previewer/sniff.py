"""Recognise a file's real type from its first bytes (the declared Content-Type is only a hint).

Returns a :class:`Sniffed` with the format name the worker understands and the queue it goes to.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from previewer.errors import Corrupt, Unsupported

IMAGE = "image"
DOCUMENT = "document"
VIDEO = "video"
QUEUES: tuple[str, ...] = (IMAGE, DOCUMENT, VIDEO)
AUDIO = "audio"  # recognised, never previewed

# Enough bytes to see every signature below (SVG may have a long XML prologue).
SNIFF_BYTES = 4096
HOOK_MAGIC = b"PREVIEWER-"  # test hooks: "PREVIEWER-SLEEP <queue> <seconds>", "PREVIEWER-BLOAT <queue> <MB> <s>"

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


# Declared Content-Types we would preview: bytes that do not match any signature then count as corrupt
# (422), not as an unsupported type (415).
_DECLARED: dict[str, str] = {
    "image/jpeg": "JPEG", "image/pjpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
    "image/bmp": "BMP", "image/x-ms-bmp": "BMP", "image/tiff": "TIFF", "image/x-icon": "ICO",
    "image/vnd.microsoft.icon": "ICO", "image/heic": "HEIC", "image/avif": "AVIF", "application/pdf": "PDF",
    "image/svg+xml": "SVG", "image/vnd.adobe.photoshop": "PSD", "application/x-photoshop": "PSD",
    "video/mp4": "MP4", "video/webm": "WebM", "video/quicktime": "MOV", "video/x-matroska": "MKV",
    "video/x-msvideo": "AVI", "video/avi": "AVI",
}


# What a declared format name stands for, until the bytes confirm it.
_GUESSES: dict[str, tuple[str, str]] = {
    "JPEG": ("jpeg", IMAGE), "PNG": ("png", IMAGE), "GIF": ("gif", IMAGE), "WebP": ("webp", IMAGE),
    "BMP": ("bmp", IMAGE), "TIFF": ("tiff", IMAGE), "ICO": ("ico", IMAGE), "HEIC": ("heic", IMAGE),
    "AVIF": ("avif", IMAGE), "PDF": ("pdf", DOCUMENT), "SVG": ("svg", DOCUMENT), "PSD": ("psd", DOCUMENT),
    "MP4": ("video", VIDEO), "WebM": ("video", VIDEO), "MOV": ("video", VIDEO), "MKV": ("video", VIDEO),
    "AVI": ("video", VIDEO),
}


@dataclass(frozen=True)
class Sniffed:
    fmt: str  # jpeg, png, gif, webp, bmp, tiff, ico, heic, avif, psd, pdf, svg, video, or a test hook
    queue: str

    @property
    def is_video(self) -> bool:
        return self.queue == VIDEO


def guess(declared: str) -> Sniffed | None:
    """What a declared Content-Type says the file is, or None when it says nothing we preview. Only a
    guess: whoever reads the bytes must confirm it with :func:`sniff`."""
    name = _DECLARED.get(declared.split(";", 1)[0].strip().lower())
    if name is None:
        return None
    fmt, queue = _GUESSES[name]
    return Sniffed(fmt, queue)


def heif_supported() -> bool:
    return importlib.util.find_spec("pillow_heif") is not None


def sniff(head: bytes, declared: str = "", test_hooks: bool = False) -> Sniffed:
    """Type of a file from its first bytes. Raises Unsupported (415) or Corrupt (422)."""
    found = _match(head, test_hooks)
    if found is not None:
        if found.queue == AUDIO:
            raise Unsupported("audio files have no preview")
        if found.fmt == "heic" and not heif_supported():
            raise Unsupported("HEIC/HEIF images are not supported here (no HEIF decoder installed)")
        return found
    if not head:
        raise Corrupt("the file is empty")
    base = declared.split(";", 1)[0].strip().lower()
    if base in _DECLARED:
        raise Corrupt(f"declared {base} but the bytes are not a valid {_DECLARED[base]} file "
                      f"(starts with {head[:8].hex(' ')})")
    raise Unsupported(f"unsupported file type (declared {base or 'nothing'}); previews exist for images, "
                      f"PDF, SVG, PSD and video")


def _match(head: bytes, test_hooks: bool) -> Sniffed | None:
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("jpeg", IMAGE)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("png", IMAGE)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("gif", IMAGE)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("webp", IMAGE)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video", VIDEO)
    if head[:2] == b"BM" and len(head) >= 26:
        return Sniffed("bmp", IMAGE)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("tiff", IMAGE)
    if head[:4] == b"\x00\x00\x01\x00" and len(head) >= 6 and head[4:6] != b"\x00\x00":
        return Sniffed("ico", IMAGE)
    if head[:4] == b"8BPS":
        return Sniffed("psd", DOCUMENT)
    if b"%PDF-" in head[:1024]:
        return Sniffed("pdf", DOCUMENT)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return Sniffed("video", VIDEO)  # Matroska / WebM (EBML)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        brands = {brand} | {head[i:i + 4] for i in range(16, min(len(head), 64), 4)}
        if brand in _AUDIO_BRANDS:
            return Sniffed("audio", AUDIO)
        if brand in _AVIF_BRANDS:
            return Sniffed("avif", IMAGE)
        if brand in _HEIF_BRANDS or (brand == b"mif1" and brands & _HEIF_BRANDS):
            return Sniffed("heic", IMAGE)
        return Sniffed("video", VIDEO)  # MP4, MOV, M4V, 3GP
    if head[4:8] in _QT_ATOMS:
        return Sniffed("video", VIDEO)  # old QuickTime without ftyp
    if looks_like_svg(head):
        return Sniffed("svg", DOCUMENT)
    if test_hooks and head.startswith(HOOK_MAGIC):
        parts = head.split()
        if len(parts) >= 2 and parts[1].decode("ascii", "replace") in QUEUES:
            return Sniffed("hook", parts[1].decode("ascii"))
    return None


_WHITESPACE = b" \t\r\n"
_AFTER_SVG = b" \t\r\n>/"


def _skip_space(head: bytes, pos: int) -> int:
    while pos < len(head) and head[pos] in _WHITESPACE:
        pos += 1
    return pos


def looks_like_svg(head: bytes) -> bool:
    """An XML prologue (declaration, comments, DOCTYPE with an internal subset) then ``<svg``.
    A linear scan: no regular expression that hostile input could make backtrack."""
    pos = _skip_space(head, 3 if head.startswith(b"\xef\xbb\xbf") else 0)
    while pos < len(head):
        if head.startswith(b"<?", pos):
            end = head.find(b"?>", pos + 2)
            pos = -1 if end < 0 else end + 2
        elif head.startswith(b"<!--", pos):
            end = head.find(b"-->", pos + 4)
            pos = -1 if end < 0 else end + 3
        elif head[pos:pos + 9].upper() == b"<!DOCTYPE":
            gt = head.find(b">", pos)
            bracket = head.find(b"[", pos, gt if gt >= 0 else len(head))
            if bracket >= 0:
                close = head.find(b"]", bracket)
                gt = -1 if close < 0 else head.find(b">", close)
            pos = -1 if gt < 0 else gt + 1
        else:
            return head[pos:pos + 4].lower() == b"<svg" and head[pos + 4:pos + 5] in _AFTER_SVG and \
                len(head) > pos + 4
        if pos < 0:
            return False
        pos = _skip_space(head, pos)
    return False
