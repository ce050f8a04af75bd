"""``POST /api/v1/send``: Mailpit's JSON message turned into MIME bytes and accepted like SMTP.

:func:`build_message` is pure (JSON dict in, bytes and envelope out) and raises ``BadRequest``
with a clear message for every kind of bad input.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
from dataclasses import dataclass
from email.headerregistry import Address as HeaderAddress
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any

from aiohttp import web

from mailcapture.errors import BadRequest, PayloadTooLarge
from mailcapture.web.common import ctx_of, json_ok, parse_json, read_limited

# Headers the JSON sets through its own fields; "Headers" may not override them (as in Mailpit).
RESTRICTED_HEADERS = frozenset(
    {"to", "from", "cc", "bcc", "reply-to", "date", "subject", "content-type", "mime-version",
     "content-transfer-encoding"}
)
MESSAGE_ID_DOMAIN = "mailcapture.local"
BASE64_OVERHEAD = 4 / 3
JSON_SLACK = 64 * 1024
# Building MIME for more than this many bytes of attachments runs in a worker thread.
BUILD_INLINE_MAX = 256 * 1024


@dataclass(slots=True)
class Built:
    raw: bytes
    mail_from: str
    recipients: list[str]


def _str(data: dict[str, Any], key: str, where: str = "") -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{where}{key} must be a string")
    return value


def _valid_email(email: str, field: str) -> str:
    email = email.strip()
    if not email or any(c in email for c in "\r\n<>,; \t") or email.count("@") != 1:
        raise BadRequest(f"invalid {field} address: {email!r}")
    local, domain = email.split("@")
    if not local or not domain:
        raise BadRequest(f"invalid {field} address: {email!r}")
    return email


def _header_address(name: str, email: str, field: str) -> HeaderAddress:
    if "\r" in name or "\n" in name:
        raise BadRequest(f"invalid {field} name: line breaks are not allowed")
    try:
        return HeaderAddress(display_name=name, addr_spec=email)
    except (ValueError, IndexError, HeaderParseError):
        raise BadRequest(f"invalid {field} address: {email!r}") from None


def _person(item: Any, field: str) -> HeaderAddress:
    """``{"Email": ..., "Name": ...}`` or a plain address string."""
    if isinstance(item, str):
        return _header_address("", _valid_email(item, field), field)
    if not isinstance(item, dict):
        raise BadRequest(f"{field} entries must be objects with Email and Name")
    email = _valid_email(_str(item, "Email", f"{field}."), field)
    return _header_address(_str(item, "Name", f"{field}."), email, field)


def _people(data: dict[str, Any], key: str) -> list[HeaderAddress]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{key} must be an array")
    return [_person(item, key) for item in value]


def _attachment_bytes(content: str, filename: str) -> bytes:
    # Browsers' readAsDataURL gives "data:image/png;base64,<data>": keep what follows the comma.
    payload = content.rsplit(",", 1)[-1]
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"attachment {filename!r}: invalid base64 content ({exc})") from None


def _maintype_subtype(content_type: str, filename: str) -> tuple[str, str]:
    ctype = content_type.strip().lower().split(";", 1)[0]
    if not ctype:
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    maintype, sep, subtype = ctype.partition("/")
    if not sep or not maintype or not subtype or any(c.isspace() for c in ctype):
        raise BadRequest(f"attachment {filename!r}: invalid ContentType {content_type!r}")
    return maintype, subtype


def _add_attachments(msg: EmailMessage, items: Any, has_html: bool) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        raise BadRequest("Attachments must be an array")
    html_part: EmailMessage | None = None
    payload = msg.get_payload()
    if has_html and isinstance(payload, list) and isinstance(payload[-1], EmailMessage):
        html_part = payload[-1]  # the text/html alternative, made multipart/related as needed
    for item in items:
        if not isinstance(item, dict):
            raise BadRequest("Attachments entries must be objects")
        filename = _str(item, "Filename", "Attachments.")
        data = _attachment_bytes(_str(item, "Content", "Attachments."), filename)
        maintype, subtype = _maintype_subtype(_str(item, "ContentType", "Attachments."), filename)
        cid = _str(item, "ContentID", "Attachments.").strip().strip("<>")
        if any(c in cid for c in "\r\n <>"):
            raise BadRequest(f"attachment {filename!r}: invalid ContentID {cid!r}")
        kwargs: dict[str, Any] = {"maintype": maintype, "subtype": subtype}
        if filename:
            kwargs["filename"] = filename
        if cid and html_part is not None:
            html_part.add_related(data, cid=f"<{cid}>", disposition="inline", **kwargs)
        elif cid:
            msg.add_attachment(data, cid=f"<{cid}>", disposition="inline", **kwargs)
        else:
            msg.add_attachment(data, disposition="attachment", **kwargs)


def build_message(data: dict[str, Any]) -> Built:
    """Mailpit's send JSON -> RFC 5322 bytes (CRLF) and the SMTP envelope."""
    sender_data = data.get("From")
    if not isinstance(sender_data, dict):
        raise BadRequest("From must be an object with Email and Name")
    sender = _person(sender_data, "From")
    to, cc, reply_to = _people(data, "To"), _people(data, "Cc"), _people(data, "ReplyTo")
    bcc = _people(data, "Bcc")
    recipients = [a.addr_spec for a in (*to, *cc, *bcc)]
    if not recipients:
        raise BadRequest("at least one recipient (To, Cc or Bcc) is required")
    subject, text, html = _str(data, "Subject"), _str(data, "Text"), _str(data, "HTML")
    if "\r" in subject or "\n" in subject:
        raise BadRequest("Subject must not contain line breaks")

    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    if to:
        msg["To"] = to
    if cc:
        msg["Cc"] = cc
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=MESSAGE_ID_DOMAIN)
    _add_headers(msg, data)
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    _add_attachments(msg, data.get("Attachments"), bool(html))
    return Built(msg.as_bytes(), sender.addr_spec, recipients)


def _add_headers(msg: EmailMessage, data: dict[str, Any]) -> None:
    tags = data.get("Tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise BadRequest("Tags must be an array of strings")
        clean = [t.strip() for t in tags if t.strip()]
        if any("," in t or "\r" in t or "\n" in t for t in clean):
            raise BadRequest("tag names must not contain commas or line breaks")
        if clean:
            msg["X-Tags"] = ", ".join(clean)
    headers = data.get("Headers")
    if headers is None:
        return
    if not isinstance(headers, dict):
        raise BadRequest("Headers must be an object of name: value")
    for name, value in headers.items():
        if not isinstance(value, str):
            raise BadRequest(f"header {name!r}: value must be a string")
        lname = name.lower()
        if lname in RESTRICTED_HEADERS or (lname == "x-tags" and "X-Tags" in msg):
            raise BadRequest(f"cannot overwrite header {name!r}")
        if not name or any(c in name for c in ": \t\r\n") or not name.isascii():
            raise BadRequest(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value:
            raise BadRequest(f"header {name!r}: value must not contain line breaks")
        if lname == "message-id":
            del msg["Message-ID"]
        msg[name] = value


def max_body_size(max_message_size: int) -> int:
    """Largest JSON body /send takes: base64 makes attachments 4/3 as large."""
    return int(max_message_size * BASE64_OVERHEAD) + JSON_SLACK


async def send(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await read_limited(request, max_body_size(ctx.settings.max_message_size))
    if len(body) > BUILD_INLINE_MAX:
        built = await asyncio.to_thread(lambda: build_message(parse_json(body)))
    else:
        built = build_message(parse_json(body))
    if len(built.raw) > ctx.settings.max_message_size:
        raise PayloadTooLarge(f"message of {len(built.raw)} bytes is larger than the limit of "
                         f"{ctx.settings.max_message_size} bytes")
    msg_id = await ctx.accept(built.raw, built.mail_from, built.recipients, "")
    return json_ok({"ID": msg_id})
