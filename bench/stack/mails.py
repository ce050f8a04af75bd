"""Fill the stack: N mails over real SMTP (every few with a PNG or JPEG), then find and warm one preview."""

from __future__ import annotations

import io
import json
import smtplib
import time
from email.message import EmailMessage

from PIL import Image

from launch import HOST, HTTP_TIMEOUT_S, StackError, http_get

PNG_EVERY = 4      # mail i carries a PNG when i % PNG_EVERY == 0 ...
JPEG_OFFSET = 2    # ... and a JPEG when i % PNG_EVERY == JPEG_OFFSET: half of the mails have an image
IMAGE_SIZE = (800, 600)
WARM_ATTEMPTS = 60
WARM_PAUSE_S = 0.5
LIST_WAIT_S = 30.0
POLL_S = 0.2


def image_bytes(i: int, fmt: str) -> bytes:
    """A distinct image per mail (colour and a stripe depend on i) so every attachment has its own preview id."""
    img = Image.new("RGB", IMAGE_SIZE, ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
    stripe = Image.new("RGB", (IMAGE_SIZE[0], 40), (255 - (i % 256), 20, 20))
    img.paste(stripe, (0, (i * 13) % (IMAGE_SIZE[1] - 40)))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def make_mail(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"sender{i % 7}@example.com"
    msg["To"] = f"dev{i % 5}@example.com"
    msg["Subject"] = f"stack bench mail {i}"
    msg.set_content(f"Mail {i} for the whole-stack benchmark.\n" + "lorem ipsum dolor sit amet " * (5 + i % 40))
    if i % PNG_EVERY == 0:
        msg.add_attachment(image_bytes(i, "PNG"), maintype="image", subtype="png", filename=f"pic{i}.png")
    elif i % PNG_EVERY == JPEG_OFFSET:
        msg.add_attachment(image_bytes(i, "JPEG"), maintype="image", subtype="jpeg", filename=f"pic{i}.jpg")
    return msg


def send_mails(smtp_port: int, count: int) -> dict[str, float]:
    """Send ``count`` mails over one SMTP session; returns count, images and seconds taken."""
    start = time.monotonic()
    images = 0
    with smtplib.SMTP(HOST, smtp_port, timeout=HTTP_TIMEOUT_S) as client:
        for i in range(count):
            msg = make_mail(i)
            images += int(msg.is_multipart())
            client.send_message(msg)
    return {"mails": count, "with_image": images, "seconds": round(time.monotonic() - start, 2)}


def wait_total(port: int, count: int) -> int:
    """Wait until the API lists ``count`` messages (ingest may finish after the 250)."""
    deadline = time.monotonic() + LIST_WAIT_S
    total = -1
    while time.monotonic() < deadline:
        status, _, body = http_get(port, "/api/v1/messages?limit=1")
        if status == 200:
            total = int(json.loads(body)["total"])
            if total >= count:
                return total
        time.sleep(POLL_S)
    raise StackError(f"the API lists {total} messages, expected {count}")


def first_preview_id(port: int) -> str:
    """The PreviewID of the first attachment of the newest message that has one."""
    status, _, body = http_get(port, "/api/v1/messages")
    if status != 200:
        raise StackError(f"/api/v1/messages answered {status}")
    for summary in json.loads(body)["messages"]:
        if summary.get("Attachments"):
            status, _, detail = http_get(port, f"/api/v1/message/{summary['ID']}")
            if status == 200:
                attachments = json.loads(detail)["Attachments"]
                if attachments:
                    return str(attachments[0]["PreviewID"])
    raise StackError("no message with an attachment in the first page")


def warm_preview(port: int, path: str) -> dict[str, str]:
    """GET ``path`` until it answers 200 (the first request renders; 202/503 mean come back later)."""
    last = 0
    for _ in range(WARM_ATTEMPTS):
        status, headers, body = http_get(port, path)
        last = status
        if status == 200:
            return {"content_type": headers.get("Content-Type", ""), "bytes": str(len(body)),
                    "x_preview_cache": headers.get("X-Preview-Cache", "")}
        time.sleep(WARM_PAUSE_S)
    raise StackError(f"{path} never answered 200 (last {last})")
