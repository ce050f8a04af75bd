"""The three references, measured on the same files as the previewer:

- ``bare_*``: the library call in this process (bytes already in memory; decode, fit into 256x256, encode
  JPEG q85) — Pillow with ``draft`` for JPEG, Pillow ``thumbnail`` for PNG, PyMuPDF page 1 at 256 px,
  PyAV frame at 10 % of the duration (seek, then decode forward to that time).
- ``vipsthumbnail``: Debian libvips-tools, one process for a batch of copies of the file.
- thumbor 7.8.0 in its own venv (PIL engine, file loader, no storage, no result storage).
"""

from __future__ import annotations

import concurrent.futures
import io
import multiprocessing
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import av
import pymupdf
from PIL import Image

from stack import HOST, REPO, Service, _base_env, _spawn

THUMB = 256
JPEG_QUALITY = 85
VIDEO_POSITION = 0.10
THUMBOR_VENV = REPO / "bench" / ".venv-thumbor"
THUMBOR_BIN = THUMBOR_VENV / "bin" / "thumbor"
THUMBOR_VERSION = "7.8.0"
THUMBOR_READY_TIMEOUT_S = 60.0
VIPS_TIMEOUT_S = 600.0
THUMBOR_STARTED = re.compile(r".*")  # readiness is polled over HTTP, any output line is fine


def _encode(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def bare_jpeg(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (THUMB, THUMB))
        im.thumbnail((THUMB, THUMB))
        return _encode(im)


def bare_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((THUMB, THUMB))
        return _encode(im)


def bare_pdf(data: bytes) -> bytes:
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        page = doc.load_page(0)
        zoom = THUMB / max(page.rect.width, page.rect.height)
        pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        return _encode(Image.frombytes("RGB", (pix.width, pix.height), pix.samples))


def bare_video(path: str) -> bytes:
    with av.open(path) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else container.duration / av.time_base
        target = duration * VIDEO_POSITION
        container.seek(int(target / stream.time_base), stream=stream, backward=True)
        frame = None
        for frame in container.decode(stream):
            if frame.time is None or frame.time >= target:
                break
        assert frame is not None
        scale = THUMB / max(frame.width, frame.height)
        im = frame.to_image(width=round(frame.width * scale), height=round(frame.height * scale))
        return _encode(im)


def bare_call(kind: str, data: bytes, path: Path) -> Callable[[], bytes]:
    if kind in ("jpeg12", "jpeg64"):
        return lambda: bare_jpeg(data)
    if kind == "png":
        return lambda: bare_png(data)
    if kind == "pdf":
        return lambda: bare_pdf(data)
    if kind == "video":
        return lambda: bare_video(str(path))
    raise ValueError(kind)


def _bare_batch(kind: str, data: bytes, path: str, n: int) -> int:
    call = bare_call(kind, data, Path(path))
    for _ in range(n):
        call()
    return n


def bare_parallel(kind: str, data: bytes, path: Path, procs: int, per_proc: int) -> float:
    """Thumbnails per second of the bare call in ``procs`` processes at once (``per_proc`` each): the
    parallelism this machine really offers to the same work, measured next to the previewer's scaling."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(procs, mp_context=ctx) as pool:
        list(pool.map(_bare_batch, [kind] * procs, [data] * procs, [str(path)] * procs, [1] * procs))  # warm
        started = time.perf_counter()
        done = sum(pool.map(_bare_batch, [kind] * procs, [data] * procs, [str(path)] * procs,
                            [per_proc] * procs))
        return done / (time.perf_counter() - started)


# ----------------------------------------------------------------- vipsthumbnail
def vips_version() -> str | None:
    exe = shutil.which("vipsthumbnail")
    if exe is None:
        return None
    out = subprocess.run([exe, "--vips-version"], capture_output=True, text=True, timeout=30, check=False)
    return out.stdout.strip() or None


def vips_batch(src: Path, copies: int, workdir: Path) -> tuple[float, float]:
    """(seconds for one process over ``copies`` copies of ``src``, seconds for one process over one copy)."""
    exe = shutil.which("vipsthumbnail")
    if exe is None:
        raise FileNotFoundError("vipsthumbnail (apt-get install libvips-tools)")
    batch = workdir / f"vips-{src.stem}"
    shutil.rmtree(batch, ignore_errors=True)
    batch.mkdir(parents=True)
    files = []
    for i in range(copies):
        dest = batch / f"{i}{src.suffix}"
        shutil.copyfile(src, dest)
        files.append(str(dest))

    def run(paths: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run([exe, "-s", f"{THUMB}x{THUMB}", "-o", f"tn_%s.jpg[Q={JPEG_QUALITY}]", *paths],
                       check=True, capture_output=True, timeout=VIPS_TIMEOUT_S)
        return time.perf_counter() - started

    run(files[:1])  # warm the page cache and the binary
    return run(files), run(files[:1])


# ----------------------------------------------------------------- thumbor
def thumbor_available() -> bool:
    return THUMBOR_BIN.exists()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_thumbor(root: Path, workdir: Path) -> tuple[Service, str]:
    """thumbor on 127.0.0.1:<free port>, file loader rooted at ``root``; returns (service, base URL)."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "thumbor.conf"
    conf.write_text(
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = {str(root)!r}\n"
        "ALLOW_UNSAFE_URL = True\n"
        "STORAGE = 'thumbor.storages.no_storage'\n"
        "RESULT_STORAGE = None\n"
        "ENGINE = 'thumbor.engines.pil'\n"
        f"QUALITY = {JPEG_QUALITY}\n"
        "MAX_AGE = 0\n")
    port = _free_port()
    env = _base_env()
    service = _spawn("thumbor", [str(THUMBOR_BIN), "-p", str(port), "-i", HOST, "-c", str(conf), "-l", "warning"],
                     env, workdir, THUMBOR_STARTED)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + THUMBOR_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/healthcheck", timeout=5) as resp:
                if resp.status == 200:
                    return service, url
        except OSError:
            time.sleep(0.1)
    service.stop()
    raise RuntimeError("thumbor did not start:\n" + "\n".join(service.lines))


def thumbor_url(base: str, filename: str) -> str:
    return f"{base}/unsafe/fit-in/{THUMB}x{THUMB}/filters:format(jpeg)/{filename}"
