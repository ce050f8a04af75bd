"""Deterministic benchmark inputs for the previewer: photo-like JPEGs, a PNG, PDFs and MP4s.

Every byte comes from ``random.Random(seed)`` and the libraries' deterministic encoders, so the same
seed gives the same files (and the same SHA-256 preview ids) on every run. No numpy: the "photo" is
smooth colour blobs (a tiny random image upscaled bicubically), mid-scale texture and fine grain.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import pymupdf
from PIL import Image, ImageChops, ImageDraw

JPEG_QUALITY = 90
BLOB_CELLS = 12  # coarse colour blobs across the long edge
TEXTURE_DIVISOR = 10  # mid-scale texture at 1/10 of the resolution
TEXTURE_WEIGHT = 0.25
GRAIN_AMPLITUDE = 10  # fine noise, +-10 grey levels
PDF_PAGES = 20
PDF_LINES = 40
PDF_PHOTO = (1600, 1200)  # pixels of the cover photo (JPEG)
PDF_METADATA = {"creationDate": "D:20260101000000", "modDate": "D:20260101000000",
                "producer": "bench", "creator": "bench"}
VIDEO_FPS = 30
VIDEO_BITRATE = 800_000


@dataclass(frozen=True)
class Input:
    kind: str  # jpeg12 | png | pdf | video | jpeg64
    name: str  # file name (also the attachment's filename)
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _noise(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def photo(width: int, height: int, seed: int) -> Image.Image:
    """An RGB picture with photo-like statistics: smooth gradients, texture and sensor grain."""
    rng = random.Random(seed)
    cells = (BLOB_CELLS, max(2, BLOB_CELLS * height // width))
    bands = [_noise(rng, cells).resize((width, height), Image.Resampling.BICUBIC) for _ in range(3)]
    base = Image.merge("RGB", bands)
    tex_size = (max(1, width // TEXTURE_DIVISOR), max(1, height // TEXTURE_DIVISOR))
    texture = _noise(rng, tex_size).resize((width, height), Image.Resampling.BICUBIC).convert("RGB")
    base = Image.blend(base, texture, TEXTURE_WEIGHT)
    grain = _noise(rng, (width, height)).point(lambda v: v * (2 * GRAIN_AMPLITUDE) // 255).convert("RGB")
    return ImageChops.add(base, grain, scale=1.0, offset=-GRAIN_AMPLITUDE)


def jpeg(width: int, height: int, seed: int) -> bytes:
    buf = io.BytesIO()
    photo(width, height, seed).save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def png(width: int, height: int, seed: int) -> bytes:
    """A screenshot-like PNG: flat panels and text-ish strokes over a photo region (realistic ratio)."""
    rng = random.Random(seed)
    im = Image.new("RGB", (width, height), (rng.randrange(200, 256),) * 3)
    im.paste(photo(width // 2, height // 2, seed + 1), (width // 4, height // 4))
    draw = ImageDraw.Draw(im)
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x, y, x + rng.randrange(5, 300), y + rng.randrange(2, 20)), fill=colour)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def pdf(pages: int, seed: int) -> bytes:
    """A text document of ``pages`` A4 pages with a heading, a text block and a few shapes per page."""
    rng = random.Random(seed)
    words = ["preview", "mail", "capture", "thumbnail", "latency", "queue", "worker", "document", "page",
             "render", "attachment", "benchmark", "sample", "invoice", "total", "customer"]
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_text((56, 72), f"Document {seed} - page {number + 1}", fontsize=20)
        if number == 0:  # a photo on the cover page, as in most real reports and scans
            page.insert_image(pymupdf.Rect(56, 100, 540, 463), stream=jpeg(*PDF_PHOTO, seed))
            page.insert_textbox(pymupdf.Rect(56, 480, 540, 800), "\n".join(
                " ".join(rng.choice(words) for _ in range(7)) for _ in range(PDF_LINES // 2)), fontsize=10)
            continue
        text = "\n".join(" ".join(rng.choice(words) for _ in range(7)) for _ in range(PDF_LINES))
        page.insert_textbox(pymupdf.Rect(56, 100, 540, 800), text, fontsize=10)
        for _ in range(3):
            x0, y0 = rng.uniform(56, 400), rng.uniform(120, 700)
            page.draw_rect(pymupdf.Rect(x0, y0, x0 + 120, y0 + 60), color=(0, 0, 0.6),
                           fill=(rng.random(), rng.random(), rng.random()), fill_opacity=0.4)
    doc.set_metadata(PDF_METADATA)
    data = doc.tobytes(deflate=True, no_new_id=True)
    doc.close()
    return data


def pdf_copy(base: bytes, label: str) -> bytes:
    """``base`` with ``label`` stamped on page 1: distinct bytes, same work to render."""
    doc = pymupdf.open(stream=base, filetype="pdf")
    doc[0].insert_text((56, 40), label, fontsize=9)
    doc.set_metadata(PDF_METADATA)
    data = doc.tobytes(deflate=True, no_new_id=True)
    doc.close()
    return data


def mp4(width: int, height: int, seconds: float, seed: int) -> bytes:
    """H.264 in MP4: a moving gradient scene (each frame differs; a keyframe every 2 s)."""
    rng = random.Random(seed)
    scene = photo(width * 2, height, seed)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = VIDEO_BITRATE
        stream.options = {"preset": "veryfast", "g": str(2 * VIDEO_FPS), "threads": "1"}
        stream.codec_context.time_base = Fraction(1, VIDEO_FPS)
        frames = int(seconds * VIDEO_FPS)
        offset = rng.randrange(width // 2)
        for i in range(frames):
            x = (offset + i * 2) % width
            frame = av.VideoFrame.from_image(scene.crop((x, 0, x + width, height)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


@dataclass(frozen=True)
class Scale:
    """How many inputs of each kind (``--quick`` shrinks them)."""
    variants: int = 4  # distinct copies per kind for concurrent clients (single flight would merge one)
    isolation_pdfs: int = 50
    isolation_videos: int = 20
    jpeg64: int = 2  # variants of the 64 MP JPEG (0 = none); slow to make, so fewer
    video_seconds: float = 5.0


def main_inputs(scale: Scale, seed: int = 1) -> dict[str, list[Input]]:
    """kind -> its distinct variants (variant 0 is the one used for latency)."""
    out: dict[str, list[Input]] = {"jpeg12": [], "png": [], "pdf": [], "video": []}
    for v in range(scale.variants):
        s = seed * 1000 + v
        out["jpeg12"].append(Input("jpeg12", f"photo12mp-{v}.jpg", "image/jpeg", jpeg(4000, 3000, s)))
        out["png"].append(Input("png", f"screen-{v}.png", "image/png", png(2560, 1440, s)))
        out["pdf"].append(Input("pdf", f"report-{v}.pdf", "application/pdf", pdf(PDF_PAGES, s)))
        out["video"].append(Input("video", f"clip-{v}.mp4", "video/mp4", mp4(640, 360, scale.video_seconds, s)))
    out["jpeg64"] = [Input("jpeg64", f"photo64mp-{v}.jpg", "image/jpeg", jpeg(9248, 6936, seed * 1000 + 64 + v))
                     for v in range(scale.jpeg64)]
    if not out["jpeg64"]:
        del out["jpeg64"]
    return out


def isolation_inputs(scale: Scale, seed: int = 2) -> list[Input]:
    """Distinct PDFs and short videos to fill the document and video queues (no single-flight merging)."""
    base = pdf(PDF_PAGES, seed)
    items = [Input("pdf", f"backlog-{i}.pdf", "application/pdf", pdf_copy(base, f"backlog copy {i}"))
             for i in range(scale.isolation_pdfs)]
    items += [Input("video", f"backlog-{i}.mp4", "video/mp4", mp4(640, 360, 2.0, seed * 10_000 + i))
              for i in range(scale.isolation_videos)]
    return items


def write_all(inputs: list[Input], directory: Path) -> dict[str, Path]:
    """Write each input under its name; sha256 -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for item in inputs:
        path = directory / item.name
        path.write_bytes(item.data)
        paths[item.sha256] = path
    return paths
