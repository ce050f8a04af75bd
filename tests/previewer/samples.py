"""Inputs for the previewer tests, generated here (Pillow, PyMuPDF, PyAV) - no binary fixtures."""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction

from PIL import Image

ORIENTATION_TAG = 0x0112
ROTATE_90_CW = 6  # EXIF orientation: stored landscape, shown portrait


def _gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    im = Image.linear_gradient("L").resize((width, height))
    if mode == "L":
        return im
    rgb = Image.merge("RGB", (im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), Image.new("L", im.size, 90)))
    if mode == "RGBA":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(im)
        return rgba
    return rgb


def save(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(width: int = 1600, height: int = 1200, orientation: int | None = None) -> bytes:
    im = _gradient(width, height)
    if orientation is None:
        return save(im, "JPEG", quality=90)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return save(im, "JPEG", quality=90, exif=exif.tobytes())


def png_alpha(width: int = 800, height: int = 600) -> bytes:
    return save(_gradient(width, height, "RGBA"), "PNG")


def png(width: int = 800, height: int = 600) -> bytes:
    return save(_gradient(width, height), "PNG")


def gif(width: int = 600, height: int = 400) -> bytes:
    first = _gradient(width, height).convert("P")
    second = Image.new("P", (width, height), 3)
    return save(first, "GIF", save_all=True, append_images=[second], duration=100)


def webp(width: int = 900, height: int = 600) -> bytes:
    return save(_gradient(width, height), "WEBP", quality=80)


def bmp(width: int = 640, height: int = 480) -> bytes:
    return save(_gradient(width, height), "BMP")


def tiff(width: int = 700, height: int = 500) -> bytes:
    pages = [_gradient(width, height), Image.new("RGB", (50, 50), "red")]
    return save(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def ico() -> bytes:
    return save(_gradient(256, 256), "ICO", sizes=[(256, 256), (32, 32)])


def avif(width: int = 640, height: int = 480) -> bytes:
    return save(_gradient(width, height), "AVIF", quality=60)


def heic(width: int = 640, height: int = 480) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return save(_gradient(width, height), "HEIF", quality=60)


def psd(width: int = 300, height: int = 200) -> bytes:
    """A minimal RGB PSD (raw image data, no layers): Pillow's composite reader opens it."""
    im = _gradient(width, height)
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # color mode data, image resources, layer/mask info
    planes = b"".join(band.tobytes() for band in im.split())
    return header + sections + struct.pack(">H", 0) + planes


def pdf(pages: int = 3, width: float = 595, height: float = 842) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=width, height=height)
        page.draw_rect(pymupdf.Rect(50, 50, width - 50, height / 2), color=(0, 0, 1), fill=(1, 0.8, 0))
        page.insert_text((72, height - 100), f"page {n + 1}", fontsize=36)
    data = doc.tobytes()
    doc.close()
    return data


def svg(width: int = 400, height: int = 200) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}"><circle cx="{width // 2}" cy="{height // 2}" '
            f'r="{min(width, height) // 3}" fill="#c33"/></svg>').encode()


# Video: dark at the start, bright from 5% on; a frame at ~10% must be bright.
def video(container: str = "mp4", codec: str = "libx264", seconds: int = 4, fps: int = 10,
          width: int = 320, height: int = 240) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        stream.time_base = Fraction(1, fps)
        total = seconds * fps
        for i in range(total):
            shade = 0 if i < total * 0.05 else 230
            frame = av.VideoFrame.from_image(Image.new("RGB", (width, height), (shade, shade // 2, 40)))
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def png_header(width: int, height: int, color_type: int = 6) -> bytes:
    """A PNG whose IHDR claims width x height (a decompression bomb header) with a tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose SOF header is patched to claim width x height."""
    data = bytearray(jpeg(64, 48))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(gif(16, 16))
    struct.pack_into("<HH", data, 6, width, height)
    # the image descriptor too, so the frame itself is huge
    desc = data.find(b"\x2c", 13)
    struct.pack_into("<HH", data, desc + 5, width, height)
    return bytes(data)


def heic_header() -> bytes:
    return struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic" + b"\0" * 64


def truncated(data: bytes, fraction: float = 0.5) -> bytes:
    return data[: max(16, int(len(data) * fraction))]


def garbled(data: bytes, keep: int = 32) -> bytes:
    """Keeps the signature, replaces the rest with noise."""
    noise = bytes((i * 131 + 7) % 256 for i in range(max(0, len(data) - keep)))
    return data[:keep] + noise
