"""The per-item fast paths (issue 3's performance targets), each checked for staying correct:
images passed on to their worker while they still download (the framing, a real worker fed in
pieces, also cut short, corrupt or aborted, and the service choosing that path); Pillow's block
cache under jemalloc; MuPDF's store emptied every few documents, not after each."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import BinaryIO

import aiohttp
import pytest
from PIL import Image

from previewer.protocol import (STREAM_ABORT, STREAM_END, StreamAborted, StreamedInput, data_prefix, encode,
                                read_frame)
from tests.previewer import samples
from tests.previewer.conftest import ROOT, Origin, PreviewerProcess, get_metrics, metric

PIECE = 5000


def frames(data: bytes, piece: int = PIECE, end: bytes = STREAM_END) -> bytes:
    out = bytearray()
    for i in range(0, len(data), piece):
        out += data_prefix(len(data[i:i + piece])) + data[i:i + piece]
    return bytes(out + end)


def request(fmt: str, data: bytes, head: int = 100, end: bytes = STREAM_END, size: int = 64) -> bytes:
    header = {"fmt": fmt, "size": size, "path": None, "input_size": len(data), "stream": True}
    return encode(header, data[:head]) + frames(data[head:], end=end)


def test_streamed_input_reads_seeks_and_drains() -> None:
    data = bytes(range(256)) * 100
    src = StreamedInput(io.BytesIO(frames(data[10:]) + b"NEXT"), data[:10])
    assert src.read(4) == data[:4] and src.tell() == 4
    assert src.read(PIECE) == data[4:PIECE + 4]  # blocks (reads frames) until enough has arrived
    src.seek(2)
    assert src.read(3) == data[2:5]  # seeking back into what already arrived
    assert src.seek(-6, io.SEEK_END) == len(data) - 6 and src.read() == data[-6:]
    assert src.read(10) == b""
    buf = bytearray(4)
    src.seek(0)
    assert src.readinto(buf) == 4 and bytes(buf) == data[:4]
    src.drain()  # nothing left: the stream stays where the next request starts
    with pytest.raises(ValueError):
        src.seek(-1)


def test_drain_reads_exactly_to_the_end_frame() -> None:
    stream = io.BytesIO(frames(b"x" * 20_000) + encode({"fmt": "next"}))
    src = StreamedInput(stream, b"head")
    assert src.read(2) == b"he"
    src.drain()
    frame = read_frame(stream)
    assert frame is not None and frame[0] == {"fmt": "next"}


def test_an_aborted_stream_raises_then_drains_quietly() -> None:
    stream = io.BytesIO(frames(b"y" * 12_000, end=encode(STREAM_ABORT)) + encode({"fmt": "next"}))
    src = StreamedInput(stream, b"")
    with pytest.raises(StreamAborted):
        src.read()
    src.drain()
    frame = read_frame(stream)
    assert frame is not None and frame[0] == {"fmt": "next"}


def _worker(queue: str = "image") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREVIEWER_WORKER_CONFIG": json.dumps({})}
    env.pop("LD_PRELOAD", None)
    return subprocess.Popen([sys.executable, "-m", "previewer.worker", queue], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)


def _reply(out: BinaryIO) -> tuple[dict[str, object], bytes]:
    frame = read_frame(out)
    assert frame is not None
    return frame


def test_a_worker_renders_streamed_inputs_and_stays_in_step() -> None:
    jpeg, png = samples.jpeg(640, 480), samples.png(300, 200)
    with _worker() as proc:
        assert proc.stdin is not None and proc.stdout is not None
        assert _reply(proc.stdout)[0]["ready"]
        # a JPEG and a PNG in pieces; a corrupt one cut after its header; a download that failed;
        # then a whole (not streamed) input: every reply belongs to its request
        proc.stdin.write(request("jpeg", jpeg))
        proc.stdin.write(request("png", png, head=8))
        proc.stdin.write(request("jpeg", jpeg[:2000] + b"\x00" * 3000))
        proc.stdin.write(request("jpeg", jpeg[:30_000], end=encode(STREAM_ABORT)))
        proc.stdin.write(request("png", b"not a png at all " * 400))
        proc.stdin.write(encode({"fmt": "jpeg", "size": 32, "path": None, "input_size": len(jpeg)}, jpeg))
        proc.stdin.flush()
        replies = [_reply(proc.stdout) for _ in range(6)]
        (ok_jpeg, data_jpeg), (ok_png, data_png) = replies[0], replies[1]
        assert ok_jpeg["ok"] and (ok_jpeg["width"], ok_jpeg["height"]) == (64, 48)
        assert Image.open(io.BytesIO(data_jpeg)).size == (64, 48)
        assert ok_png["ok"] and Image.open(io.BytesIO(data_png)).size == (64, 43)
        assert [r[0]["ok"] for r in replies[2:5]] == [False, False, False]
        assert replies[2][0]["code"] == "corrupt" and replies[4][0]["code"] == "corrupt"
        assert replies[3][0]["code"] in ("aborted", "corrupt")
        assert replies[5][0]["ok"] and replies[5][0]["width"] == 32
        proc.stdin.close()
        assert proc.wait(10) == 0


async def test_images_are_streamed_to_an_idle_worker(origin: Origin, previewer: PreviewerProcess,
                                                     http: aiohttp.ClientSession) -> None:
    before = await get_metrics(http, previewer.url)
    jpeg = samples.jpeg(1600, 1200)
    blob_ids = [origin.add(jpeg + bytes([i]), "image/jpeg", chunked=bool(i % 2)) for i in range(2)]
    for blob_id in blob_ids:
        async with http.get(f"{previewer.url}/preview/{blob_id}?size=128") as resp:
            assert resp.status == 200 and resp.headers["X-Preview-Cache"] == "miss"
            assert Image.open(io.BytesIO(await resp.read())).size == (128, 96)
    pdf_id = origin.add(samples.pdf(1) + b"%pdf-stream-test", "application/pdf")
    async with http.get(f"{previewer.url}/preview/{pdf_id}?size=128") as resp:
        assert resp.status == 200
    after = await get_metrics(http, previewer.url)

    def delta(how: str) -> float:
        return metric(after, "previewer_inputs_total", how=how) - metric(before, "previewer_inputs_total", how=how)

    assert delta("streamed") == 2  # images, a worker free: passed on while downloading
    assert delta("memory") == 1  # a PDF is read whole first (PyMuPDF needs all of it)


def _minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def test_repeated_large_png_renders_do_not_fault_under_jemalloc() -> None:
    """Pillow's block cache (images.PILLOW_BLOCKS_MAX): without it every 2560x1440 PNG was a fresh
    calloc that jemalloc zeroes by purging, i.e. ~3,600+ page faults per render."""
    from previewer import jemalloc

    library = jemalloc.find_library()
    if library is None:
        pytest.skip("libjemalloc is not installed")
    png = samples.png(2560, 1440)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREVIEWER_WORKER_CONFIG": "{}", "LD_PRELOAD": library}
    env.pop("PILLOW_BLOCKS_MAX", None)
    with subprocess.Popen([sys.executable, "-m", "previewer.worker", "image"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, env=env) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        assert _reply(proc.stdout)[0]["jemalloc"]
        faults = []
        for _ in range(4):
            before = _minor_faults(proc.pid)
            proc.stdin.write(encode({"fmt": "png", "size": 256, "path": None, "input_size": len(png)}, png))
            proc.stdin.flush()
            assert _reply(proc.stdout)[0]["ok"]
            faults.append(_minor_faults(proc.pid) - before)
        assert max(faults[1:]) < 1000, faults  # the first render may fault its buffers in once
        proc.stdin.close()
        assert proc.wait(10) == 0


def _pdf_with_photo(photo: bytes, label: str) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(pymupdf.Rect(40, 40, 555, 450), stream=photo)
    page.insert_text((72, 600), label, fontsize=24)
    data = doc.tobytes()
    doc.close()
    return data


def test_a_document_worker_keeps_mupdfs_store_bounded() -> None:
    """MuPDF's store is emptied every few documents (not after each: that cost ~30 % per PDF), so a
    worker rendering many distinct PDFs with photos stays within a bounded size."""
    from previewer.worker import documents

    photo = samples.jpeg(1200, 1000)  # ~3.6 MB once decoded, again for every new document
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREVIEWER_WORKER_CONFIG": "{}"}
    with subprocess.Popen([sys.executable, "-m", "previewer.worker", "document"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, env=env) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        _reply(proc.stdout)
        rss = []
        for i in range(64):  # ~230 MB if never emptied: the budget must empty it, whatever the count
            pdf = _pdf_with_photo(photo, f"document {i}")
            proc.stdin.write(encode({"fmt": "pdf", "size": 128, "path": None, "input_size": len(pdf)}, pdf))
            proc.stdin.flush()
            reply = _reply(proc.stdout)[0]
            assert reply["ok"]
            rss.append(int(reply["rss"]))  # type: ignore[call-overload]
        proc.stdin.close()
        assert proc.wait(10) == 0
    growth = max(rss) - rss[0]
    # never emptied: ~3.6 MB more per document (~230 MB here); emptied past the budget
    assert growth < documents.STORE_BUDGET + 16 * 2**20, [r >> 20 for r in rss]


async def test_a_streamed_image_whose_download_breaks_is_502_and_the_worker_stays_in_step(
        origin: Origin, previewer: PreviewerProcess, http: aiohttp.ClientSession) -> None:
    jpeg = samples.jpeg(1600, 1200)
    broken = origin.add(jpeg + b"broken", "image/jpeg", cut_after=len(jpeg) // 3)
    before = await get_metrics(http, previewer.url)
    async with http.get(f"{previewer.url}/preview/{broken}?size=128") as resp:
        assert resp.status == 502
    after = await get_metrics(http, previewer.url)
    assert metric(after, "previewer_inputs_total", how="streamed") > metric(before, "previewer_inputs_total",
                                                                              how="streamed")
    for i in range(3):  # every image worker still answers its own requests
        good = origin.add(jpeg + bytes([i]) + b"after", "image/jpeg")
        async with http.get(f"{previewer.url}/preview/{good}?size=128") as resp:
            assert resp.status == 200
            assert Image.open(io.BytesIO(await resp.read())).size == (128, 96)
