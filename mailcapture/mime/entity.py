"""What a MIME entity's own headers say about it (type, parameters, disposition, encoding)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value

from .fields import strip_angles
from .headers import decode_words

DEFAULT_TYPE = "text/plain"
DIGEST_DEFAULT_TYPE = "message/rfc822"
UNKNOWN_TYPE = "application/octet-stream"
DEFAULT_ENCODING = "7bit"
DISPOSITION_ATTACHMENT = "attachment"
DISPOSITION_INLINE = "inline"

_TOKEN = r"[a-z0-9!#$%&'*+.^_`{|}~-]+"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")


@dataclass(slots=True)
class EntityInfo:
    content_type: str
    charset: str = ""
    filename: str = ""
    content_id: str = ""
    disposition: str = ""
    encoding: str = DEFAULT_ENCODING
    boundary: str = ""

    @property
    def is_multipart(self) -> bool:
        return self.content_type.startswith("multipart/")

    @property
    def child_default_type(self) -> str:
        return DIGEST_DEFAULT_TYPE if self.content_type == "multipart/digest" else DEFAULT_TYPE


def _content_type(msg: Message, default_type: str) -> str:
    value = msg.get("Content-Type")
    if value is None or not value.strip():
        return default_type
    media = value.split(";", 1)[0].strip().lower().replace(" ", "")
    return media if _MEDIA_TYPE.fullmatch(media) else UNKNOWN_TYPE


def _param(msg: Message, name: str) -> str:
    value = msg.get_param(name)
    if value is None or value == "":
        return ""
    if isinstance(value, tuple):
        value = collapse_rfc2231_value(value)
    return str(value).strip()


def _disposition(msg: Message) -> str:
    value = msg.get_content_disposition()
    if not value:
        return ""
    return DISPOSITION_INLINE if value == DISPOSITION_INLINE else DISPOSITION_ATTACHMENT


def _filename(msg: Message) -> str:
    name = msg.get_filename()
    if not name:
        return ""
    return decode_words(str(name)).strip()


def _encoding(msg: Message) -> str:
    value = msg.get("Content-Transfer-Encoding") or ""
    words = value.strip().strip('"').lower().split()
    return words[0].rstrip(";") if words else DEFAULT_ENCODING


def _safely(read: Callable[[Message], str], msg: Message, default: str = "") -> str:
    """One unreadable field must not hide the others: failures give ``default``."""
    try:
        return read(msg)
    except Exception:  # garbage in one header: keep the default for that field
        return default


def _charset(msg: Message) -> str:
    return _param(msg, "charset").strip("\"'").lower()


def _content_id(msg: Message) -> str:
    return strip_angles(msg.get("Content-ID") or "")


def _boundary(msg: Message) -> str:
    return msg.get_boundary() or ""


def entity_info(msg: Message, default_type: str = DEFAULT_TYPE) -> EntityInfo:
    info = EntityInfo(
        content_type=_content_type(msg, default_type),
        charset=_safely(_charset, msg),
        filename=_safely(_filename, msg),
        content_id=_safely(_content_id, msg),
        disposition=_safely(_disposition, msg),
        encoding=_safely(_encoding, msg, DEFAULT_ENCODING),
    )
    if info.is_multipart:
        info.boundary = _safely(_boundary, msg)
    return info
