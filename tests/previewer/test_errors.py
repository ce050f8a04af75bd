"""Bad input of every kind gets its status in the one JSON error shape, and the service keeps working."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

import aiohttp
import pytest
from PIL import Image

from tests.previewer import samples
from tests.previewer.conftest import Origin, PreviewerProcess, get_metrics, metric

BOMB_SECONDS = 2.0  # a bomb must be refused from its header, quickly


async def get_error(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object], str]:
    async with http.get(url) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json(), resp.headers.get("Cache-Control", "")


async def preview_error(http: aiohttp.ClientSession, base: str, blob_id: str, size: str = "256") -> tuple[int, str]:
    status, body, cache_control = await get_error(http, f"{base}/preview/{blob_id}?size={size}")
    assert set(body) == {"Error", "Status"} and body["Status"] == status
    assert cache_control == "no-store"
    return status, str(body["Error"])


async def test_unknown_id_is_404(previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    status, message = await preview_error(http, previewer.url, "ab" * 32)
    assert status == 404 and "ab" * 32 in message


@pytest.mark.parametrize("size", ["100", "0", "-256", "big", "256.0", "2048"])
async def test_bad_size_is_400(size: str, origin: Origin, previewer: PreviewerProcess,
                               http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(samples.jpeg(100, 100), "image/jpeg")
    status, message = await preview_error(http, previewer.url, blob_id, size)
    assert status == 400 and "128, 256, 512, 1024" in message


async def test_malformed_id_is_400(previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    status, message = await preview_error(http, previewer.url, "not-a-hash")
    assert status == 400 and "SHA-256" in message


@pytest.mark.parametrize(("data", "declared"), [
    (b"just some text, nothing to preview\n" * 10, "text/plain"),
    (b"PK\x03\x04" + b"\0" * 200, "application/zip"),
    (b"\x7fELF" + b"\0" * 200, "application/octet-stream"),
    (b"ID3\x04\x00" + b"\0" * 200, "audio/mpeg"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\0" * 200, "audio/wav"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\0" * 200, "audio/mp4"),
])
async def test_unsupported_type_is_415(data: bytes, declared: str, origin: Origin, previewer: PreviewerProcess,
                                       http: aiohttp.ClientSession) -> None:
    status, message = await preview_error(http, previewer.url, origin.add(data, declared))
    assert status == 415, message


BOMBS: dict[str, Callable[[], bytes]] = {
    "png-100000x100000": lambda: samples.png_header(100_000, 100_000),
    "png-10000x10000-rgba": lambda: samples.png_header(10_000, 10_000),
    "jpeg-60000x60000": lambda: samples.jpeg_claiming(60_000, 60_000),
    "gif-65535x65535": lambda: samples.gif_claiming(65_535, 65_535),
}


@pytest.mark.parametrize("name", list(BOMBS))
async def test_decompression_bomb_is_refused_fast(name: str, origin: Origin, previewer: PreviewerProcess,
                                                  http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(BOMBS[name](), "image/png")
    started = time.monotonic()
    status, message = await preview_error(http, previewer.url, blob_id)
    assert time.monotonic() - started < BOMB_SECONDS
    assert status == 413, message
    assert "THUMBNAIL_IMAGE_ORIGINAL_SIZE_LIMIT" in message or "decompression bomb" in message


def _video() -> bytes:
    return samples.video("mp4", "libx264")


# Corrupt (signature kept, body garbled) and truncated files of every type -> 422 with a reason.
BROKEN: dict[str, tuple[bytes, str]] = {
    "jpeg-truncated": (samples.truncated(samples.jpeg()), "image/jpeg"),
    "jpeg-garbled": (samples.garbled(samples.jpeg()), "image/jpeg"),
    "png-truncated": (samples.truncated(samples.png_alpha()), "image/png"),
    "png-garbled": (samples.garbled(samples.png_alpha()), "image/png"),
    "gif-truncated": (samples.truncated(samples.gif()), "image/gif"),
    "gif-garbled": (samples.garbled(samples.gif()), "image/gif"),
    "webp-truncated": (samples.truncated(samples.webp()), "image/webp"),
    "webp-garbled": (samples.garbled(samples.webp()), "image/webp"),
    "bmp-truncated": (samples.truncated(samples.bmp()), "image/bmp"),
    "bmp-garbled": (samples.garbled(samples.bmp()), "image/bmp"),
    "tiff-truncated": (samples.truncated(samples.tiff()), "image/tiff"),
    "tiff-garbled": (samples.garbled(samples.tiff()), "image/tiff"),
    "ico-truncated": (samples.truncated(samples.ico()), "image/x-icon"),
    "ico-garbled": (samples.garbled(samples.ico()), "image/x-icon"),
    "avif-garbled": (samples.garbled(samples.avif()), "image/avif"),
    "psd-truncated": (samples.truncated(samples.psd()), "image/vnd.adobe.photoshop"),
    "psd-garbled": (samples.garbled(samples.psd()), "image/vnd.adobe.photoshop"),
    "pdf-truncated": (samples.truncated(samples.pdf(), 0.05), "application/pdf"),
    "pdf-garbled": (samples.garbled(samples.pdf()), "application/pdf"),
    "pdf-no-pages": (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n"
                     b"<< /Root 1 0 R >>\n%%EOF", "application/pdf"),
    "svg-truncated": (samples.svg()[:120], "image/svg+xml"),
    "svg-empty-size": (b'<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg>', "image/svg+xml"),
    "mp4-truncated": (samples.truncated(_video()), "video/mp4"),
    "mp4-garbled": (samples.garbled(_video()), "video/mp4"),
    "webm-garbled": (samples.garbled(samples.video("webm", "libvpx")), "video/webm"),
    "avi-garbled": (samples.garbled(samples.video("avi", "mpeg4")), "video/x-msvideo"),
    "declared-jpeg-not-jpeg": (b"\x00\x01garbage that is no image at all" * 4, "image/jpeg"),
    "empty": (b"", "image/png"),
}


@pytest.mark.parametrize("name", list(BROKEN))
async def test_corrupt_and_truncated_files_are_422(name: str, origin: Origin, previewer: PreviewerProcess,
                                                   http: aiohttp.ClientSession) -> None:
    data, declared = BROKEN[name]
    status, message = await preview_error(http, previewer.url, origin.add(data, declared))
    assert status == 422, message
    assert len(message) > 10  # says what was wrong
    assert "/tmp" not in message  # no private paths leak


async def test_service_keeps_answering_during_and_after_bad_input(
        origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    bad = [origin.add(data + b"#again", declared) for data, declared in list(BROKEN.values())[:12]]
    good = origin.add(samples.jpeg(500, 500), "image/jpeg")
    results = await asyncio.gather(*(http.get(f"{previewer.url}/preview/{b}") for b in bad),
                                   http.get(f"{previewer.url}/preview/{good}"))
    statuses = [r.status for r in results]
    for r in results:
        r.release()
    assert statuses[-1] == 200
    assert all(s in (200, 422) for s in statuses[:-1])
    async with http.get(previewer.url + "/healthz") as resp:
        assert resp.status == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_file_over_size_limit_is_413(chunked: bool, origin: Origin, start_previewer: Callable[..., PreviewerProcess],
                                           http: aiohttp.ClientSession) -> None:
    proc = start_previewer(THUMBNAIL_IMAGE_SIZE_LIMIT="1", THUMBNAIL_TASK_WORKERS="1")
    big = samples.bmp(1000, 800)  # 2.4 MB
    blob_id = origin.add(big + (b"c" if chunked else b"l"), "image/bmp", chunked=chunked)
    status, message = await preview_error(http, proc.url, blob_id)
    assert status == 413 and "THUMBNAIL_IMAGE_SIZE_LIMIT" in message
    assert [p for p in proc.tmpdir.rglob("*") if p.is_file()] == []
    small = origin.add(samples.jpeg(300, 300), "image/jpeg")
    async with http.get(f"{proc.url}/preview/{small}") as resp:
        assert resp.status == 200


async def test_heic_without_a_decoder_is_415_else_corrupt_is_422(origin: Origin, previewer: PreviewerProcess,
                                                             http: aiohttp.ClientSession) -> None:
    import importlib.util

    expected = 422 if importlib.util.find_spec("pillow_heif") is not None else 415
    blob_id = origin.add(samples.garbled(samples.heic_header()), "image/heic")
    status, message = await preview_error(http, previewer.url, blob_id)
    assert status == expected, message


async def test_unknown_endpoint_uses_the_error_shape(previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    status, body, _ = await get_error(http, previewer.url + "/nope")
    assert status == 404 and body["Status"] == 404
    async with http.post(previewer.url + "/prewarm", data=b"{not json") as resp:
        assert resp.status == 400 and (await resp.json())["Status"] == 400


async def test_error_outcomes_are_counted(origin: Origin, previewer: PreviewerProcess,
                                          http: aiohttp.ClientSession) -> None:
    before = await get_metrics(http, previewer.url)
    blob_id = origin.add(samples.garbled(samples.png()) + b"count", "image/png")
    async with http.get(f"{previewer.url}/preview/{blob_id}") as resp:
        assert resp.status == 422
    after = await get_metrics(http, previewer.url)
    assert metric(after, "previewer_requests_total", status="422") == metric(
        before, "previewer_requests_total", status="422") + 1
    assert metric(after, "previewer_tasks_total", queue="image", outcome="error") == metric(
        before, "previewer_tasks_total", queue="image", outcome="error") + 1


LAUGHS = "".join(f'<!ENTITY {b} "{("&" + a + ";") * 10}">' for a, b in zip("abcdefg", "bcdefgh"))
HOSTILE_SVG: dict[str, bytes] = {
    "huge-canvas": b'<svg xmlns="http://www.w3.org/2000/svg" width="100000000" height="50000000">'
                   b'<rect width="100%" height="100%" fill="blue"/></svg>',
    "billion-laughs": (f'<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">{LAUGHS}]>\n'
                       '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><text y="20">&h;</text>'
                       '</svg>').encode(),
    "external-file": b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
                     b'width="100" height="100"><image xlink:href="file:///etc/passwd" width="100" height="100"/>'
                     b'</svg>',
}


@pytest.mark.parametrize("name", list(HOSTILE_SVG))
async def test_hostile_svg_is_rendered_at_thumbnail_scale(name: str, origin: Origin, previewer: PreviewerProcess,
                                                          http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    async with http.get(f"{previewer.url}/preview/{origin.add(HOSTILE_SVG[name], 'image/svg+xml')}") as resp:
        body = await resp.read()
        assert resp.status == 200, body
    assert time.monotonic() - started < BOMB_SECONDS
    width, height = Image.open(io.BytesIO(body)).size
    assert max(width, height) == 256
