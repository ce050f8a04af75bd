"""Every supported format through the real previewer: type and dimensions of the thumbnail."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable, Mapping

import aiohttp
import pytest
from PIL import Image

from tests.previewer import samples
from tests.previewer.conftest import Origin, PreviewerProcess, get_metrics, metric

# name -> (generator, declared type, expected output type, expected (w, h) at size 256)
CASES: dict[str, tuple[Callable[[], bytes], str, str, tuple[int, int]]] = {
    "jpeg": (lambda: samples.jpeg(1600, 1200), "image/jpeg", "image/jpeg", (256, 192)),
    "jpeg-exif-rotated": (lambda: samples.jpeg(400, 200, samples.ROTATE_90_CW), "image/jpeg", "image/jpeg",
                          (128, 256)),
    "png-alpha": (lambda: samples.png_alpha(800, 600), "image/png", "image/png", (256, 192)),
    "png-opaque": (lambda: samples.png(800, 600), "image/png", "image/jpeg", (256, 192)),
    "gif": (lambda: samples.gif(600, 400), "image/gif", "image/jpeg", (256, 171)),
    "webp": (lambda: samples.webp(900, 600), "image/webp", "image/jpeg", (256, 171)),
    "bmp": (lambda: samples.bmp(640, 480), "image/bmp", "image/jpeg", (256, 192)),
    "tiff": (lambda: samples.tiff(700, 500), "image/tiff", "image/jpeg", (256, 183)),
    "ico": (samples.ico, "image/x-icon", "image/jpeg", (256, 256)),
    "avif": (lambda: samples.avif(640, 480), "image/avif", "image/jpeg", (256, 192)),
    "heic": (lambda: samples.heic(640, 480), "image/heic", "image/jpeg", (256, 192)),
    "psd": (lambda: samples.psd(300, 200), "image/vnd.adobe.photoshop", "image/jpeg", (256, 171)),
    "pdf": (lambda: samples.pdf(3), "application/pdf", "image/jpeg", (181, 256)),
    "svg": (lambda: samples.svg(400, 200), "image/svg+xml", "image/png", (256, 128)),
    "mp4": (lambda: samples.video("mp4", "libx264"), "video/mp4", "image/jpeg", (256, 192)),
    "webm": (lambda: samples.video("webm", "libvpx"), "video/webm", "image/jpeg", (256, 192)),
    "mkv": (lambda: samples.video("matroska", "libx264"), "video/x-matroska", "image/jpeg", (256, 192)),
    "mov": (lambda: samples.video("mov", "libx264"), "video/quicktime", "image/jpeg", (256, 192)),
    "avi": (lambda: samples.video("avi", "mpeg4"), "video/x-msvideo", "image/jpeg", (256, 192)),
}
PIL_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG"}


async def fetch(http: aiohttp.ClientSession, base: str, blob_id: str, size: int | None = 256,
                **headers: str) -> tuple[int, Mapping[str, str], bytes]:
    query = "" if size is None else f"?size={size}"
    async with http.get(f"{base}/preview/{blob_id}{query}", headers=headers) as resp:
        return resp.status, resp.headers.copy(), await resp.read()


HAS_HEIF = importlib.util.find_spec("pillow_heif") is not None
NEEDS_HEIF = pytest.mark.skipif(not HAS_HEIF, reason="pillow-heif is not installed")


@pytest.mark.parametrize("name", [pytest.param(n, marks=NEEDS_HEIF) if n == "heic" else n for n in CASES])
async def test_format(name: str, origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    make, declared, expected_type, expected_size = CASES[name]
    blob_id = origin.add(make(), declared)
    status, headers, body = await fetch(http, previewer.url, blob_id)
    assert status == 200, body
    assert headers["Content-Type"] == expected_type
    im = Image.open(io.BytesIO(body))
    assert im.format == PIL_FORMAT[expected_type], "Content-Type must match the bytes"
    assert im.size == expected_size
    if expected_type == "image/png":
        assert im.mode in ("RGBA", "LA"), "transparency kept"
    if name in ("mp4", "webm", "mkv", "mov", "avi"):
        # the samples are dark for the first 5% and bright after: a frame at ~10% is bright
        assert im.convert("L").getextrema()[1] > 100, "expected a representative frame, not the black intro"


async def test_exif_orientation_turns_the_picture(origin: Origin, previewer: PreviewerProcess,
                                                  http: aiohttp.ClientSession) -> None:
    plain = origin.add(samples.jpeg(400, 200), "image/jpeg")
    rotated = origin.add(samples.jpeg(400, 200, samples.ROTATE_90_CW), "image/jpeg")
    _, _, a = await fetch(http, previewer.url, plain, 128)
    _, _, b = await fetch(http, previewer.url, rotated, 128)
    assert Image.open(io.BytesIO(a)).size == (128, 64)
    assert Image.open(io.BytesIO(b)).size == (64, 128)


@pytest.mark.parametrize("size", [128, 256, 512, 1024])
async def test_every_size_fits_its_box(size: int, origin: Origin, previewer: PreviewerProcess,
                                       http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(samples.jpeg(2000, 1000), "image/jpeg")
    status, _, body = await fetch(http, previewer.url, blob_id, size)
    assert status == 200
    assert Image.open(io.BytesIO(body)).size == (size, size // 2)


async def test_default_size_is_256_and_small_images_are_not_enlarged(
        origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    big = origin.add(samples.jpeg(1000, 500), "image/jpeg")
    small = origin.add(samples.png(40, 30), "image/png")
    _, _, body = await fetch(http, previewer.url, big, None)
    assert Image.open(io.BytesIO(body)).size == (256, 128)
    _, _, body = await fetch(http, previewer.url, small, 1024)
    assert Image.open(io.BytesIO(body)).size == (40, 30)


async def test_sniffs_real_type_not_the_declared_one(origin: Origin, previewer: PreviewerProcess,
                                                     http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(samples.png_alpha(300, 300), "application/octet-stream")
    status, headers, _ = await fetch(http, previewer.url, blob_id)
    assert status == 200 and headers["Content-Type"] == "image/png"
    lying = origin.add(samples.pdf(1), "image/jpeg")
    status, headers, body = await fetch(http, previewer.url, lying)
    assert status == 200 and Image.open(io.BytesIO(body)).size == (181, 256)


@pytest.mark.parametrize(("make", "size"), [
    (lambda: samples.bmp(1200, 1000), (256, 213)),  # an image: streamed to the idle image worker
    (lambda: samples.psd(1100, 1000), (256, 233)),  # a document: spooled to a temp file first
], ids=["bmp-streamed", "psd-spooled"])
async def test_large_input_is_spooled_or_streamed_and_no_temp_file_stays(
        make: Callable[[], bytes], size: tuple[int, int], origin: Origin, previewer: PreviewerProcess,
        http: aiohttp.ClientSession) -> None:
    data = make()  # 3.3-3.6 MB, over the 1 MB spool threshold
    assert len(data) > 2 * 1024 * 1024
    before = await get_metrics(http, previewer.url)
    blob_id = origin.add(data, "application/octet-stream", chunked=True)
    status, _, body = await fetch(http, previewer.url, blob_id)
    assert status == 200
    assert Image.open(io.BytesIO(body)).size == size
    leftovers = [p for p in previewer.tmpdir.rglob("*") if p.is_file()]
    assert leftovers == []
    after = await get_metrics(http, previewer.url)
    how = "streamed" if size[1] == 213 else "file"
    assert metric(after, "previewer_inputs_total", how=how) - metric(before, "previewer_inputs_total", how=how) == 1


async def test_cache_etag_and_304(origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    blob_id = origin.add(samples.jpeg(800, 800), "image/jpeg")
    status, headers, body = await fetch(http, previewer.url, blob_id, 128)
    assert status == 200 and headers["X-Preview-Cache"] == "miss"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    status, headers2, body2 = await fetch(http, previewer.url, blob_id, 128)
    assert status == 200 and headers2["X-Preview-Cache"] == "hit" and body2 == body and headers2["ETag"] == etag
    assert origin.hits[blob_id] == 1
    status, headers3, body3 = await fetch(http, previewer.url, blob_id, 128, **{"If-None-Match": etag})
    assert status == 304 and body3 == b"" and headers3["ETag"] == etag
    cached = [p for p in (previewer.workdir / "cache").rglob(f"{blob_id}.*") if p.parent.parent.name == "128"]
    assert [p.name for p in cached] == [f"{blob_id}.jpg"]
    assert cached[0].read_bytes() == body
    # another size is another thumbnail with another ETag
    _, headers4, _ = await fetch(http, previewer.url, blob_id, 256)
    assert headers4["ETag"] != etag


async def test_a_small_video_is_read_from_memory_and_a_large_one_from_a_temp_file(
        origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    small = samples.video("mp4") + b"\x00" * 12_345  # bytes no other test previews (its cache would answer)
    assert len(small) < 1024 * 1024  # under the spool threshold
    large = samples.video("mp4") + b"\x00" * (2 * 1024 * 1024)  # trailing bytes past the last box
    for data, how in ((small, "memory"), (large, "file")):
        before = await get_metrics(http, previewer.url)
        status, headers, _ = await fetch(http, previewer.url, origin.add(data, "video/mp4"))
        assert status == 200 and headers["Content-Type"] == "image/jpeg", how
        after = await get_metrics(http, previewer.url)
        assert metric(after, "previewer_inputs_total", how=how) - metric(before, "previewer_inputs_total", how=how) == 1
    assert [p for p in previewer.tmpdir.rglob("*") if p.is_file()] == []
