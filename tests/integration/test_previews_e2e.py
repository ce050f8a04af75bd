"""Capture service + previewer as real processes: SMTP in, thumbnails out, prewarm off the SMTP path."""

from __future__ import annotations

import io
import json
import smtplib
import socket
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from tests.previewer import samples
from tests.previewer.conftest import PreviewerProcess
from tests.support import CaptureProcess, free_port

pytestmark = pytest.mark.slow

ATTACHMENTS = {
    "photo.jpg": ("image", "jpeg", lambda: samples.jpeg(1600, 1200)),
    "alpha.png": ("image", "png", lambda: samples.png_alpha(800, 600)),
    "anim.gif": ("image", "gif", lambda: samples.gif(600, 400)),
    "pic.webp": ("image", "webp", lambda: samples.webp(900, 600)),
    "scan.tiff": ("image", "tiff", lambda: samples.tiff(700, 500)),
    "report.pdf": ("application", "pdf", lambda: samples.pdf(3)),
    "clip.mp4": ("video", "mp4", lambda: samples.video("mp4")),
}
FORMAT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def send(capture: CaptureProcess, attachments: dict[str, tuple[str, str, bytes]], subject: str = "previews") -> None:
    msg = EmailMessage()
    msg["From"] = "ci@example.com"
    msg["To"] = "dev@example.com"
    msg["Subject"] = subject
    msg.set_content("see attached")
    for name, (maintype, subtype, data) in attachments.items():
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    with smtplib.SMTP("127.0.0.1", capture.smtp_port, timeout=30) as client:
        client.send_message(msg)


def test_thumbnails_of_every_kind_through_the_capture_service(capture_factory, tmp_path: Path) -> None:
    port = free_port()
    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL=f"http://127.0.0.1:{port}")
    previewer = PreviewerProcess(capture.base, tmp_path / "previewer", PREVIEWER_HTTP_ADDR=f"127.0.0.1:{port}")
    previewer.start()
    try:
        files = {name: (main, sub, make()) for name, (main, sub, make) in ATTACHMENTS.items()}
        send(capture, files)
        (summary,) = capture.json("GET", "/api/v1/messages")["messages"]
        detail = capture.json("GET", f"/api/v1/message/{summary['ID']}")
        parts = {p["FileName"]: p for p in detail["Attachments"] + detail["Inline"]}
        assert set(parts) == set(files)

        # Prewarm: the capture service told the previewer; thumbnails appear in its cache unasked.
        cache = tmp_path / "previewer" / "cache"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cached = {p.stem for p in cache.rglob("*") if p.is_file() and len(p.stem) == 64}
            if {p["PreviewID"] for p in parts.values()} <= cached:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"prewarm did not fill the cache: {sorted(cached)}\n{previewer.log[-2000:]}")

        for name, part in parts.items():
            status, headers, body = capture.request("GET", f"{part['PreviewURL']}?size=256")
            assert status == 200, (name, body[:300])
            with Image.open(io.BytesIO(body)) as img:
                assert headers["Content-Type"] == FORMAT_TYPES[img.format], name
                assert max(img.size) <= 256 and max(img.size) >= 64, (name, img.size)
                if name == "alpha.png":
                    assert img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            status, headers, body = capture.request(
                "GET", f"/api/v1/message/{summary['ID']}/part/{part['PartID']}/thumb")
            assert status == 200 and headers["Content-Type"].startswith("image/"), name
    finally:
        previewer.stop()


def test_a_hanging_previewer_never_delays_smtp(capture_factory) -> None:
    """The previewer URL accepts connections and never answers: SMTP stays fast and stores everything."""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)
        port = black_hole.getsockname()[1]
        capture = capture_factory(MAILCAPTURE_PREVIEWER_URL=f"http://127.0.0.1:{port}")
        png = samples.png(200, 100)
        for n in range(5):
            started = time.monotonic()
            send(capture, {f"p{n}.png": ("image", "png", png + bytes([n]))}, subject=f"m{n}")
            assert time.monotonic() - started < 3
        listing = capture.json("GET", "/api/v1/messages")
        assert listing["total"] == 5
        # and a thumb request answers (a placeholder) instead of hanging the API
        msg_id = listing["messages"][0]["ID"]
        part = capture.json("GET", f"/api/v1/message/{msg_id}")["Attachments"][0]
        started = time.monotonic()
        status, headers, _ = capture.request("GET", f"/api/v1/message/{msg_id}/part/{part['PartID']}/thumb")
        assert status == 200 and headers["Content-Type"].startswith("image/")
        assert time.monotonic() - started < 40


def test_previewer_down_gives_a_clear_error_on_preview(capture_factory) -> None:
    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL=f"http://127.0.0.1:{free_port()}")
    send(capture, {"x.png": ("image", "png", samples.png(50, 50))})
    msg_id = capture.json("GET", "/api/v1/messages")["messages"][0]["ID"]
    part = capture.json("GET", f"/api/v1/message/{msg_id}")["Attachments"][0]
    status, _, body = capture.request("GET", part["PreviewURL"])
    assert status in (502, 503)
    assert set(json.loads(body)) == {"Error", "Status"}
