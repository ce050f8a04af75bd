"""Which leaf is the text body, the HTML body, an inline part or an attachment.

Mirrors how Mailpit lists parts (enmime's Envelope: Attachments, Inlines, OtherParts, with
OtherParts shown under "Inline"):

- the first text/plain and the first text/html leaf not disposed as attachments are the bodies;
- ``Content-Disposition: attachment`` -> attachment;
- application/octet-stream not disposed inline -> attachment;
- ``Content-Disposition: inline`` -> inline;
- no disposition and not text/plain or text/html (cid: images of a multipart/related, typically)
  -> inline;
- what remains (a second text/plain or text/html alternative, a multipart kept whole at the
  nesting cap) -> attachment.

A single-part message is its own body when it is text/plain or text/html (and not disposed as an
attachment); otherwise it is inline when disposed inline and an attachment when not.
"""

from __future__ import annotations

from .entity import DISPOSITION_ATTACHMENT, DISPOSITION_INLINE
from .model import KIND_ATTACHMENT, KIND_HTML, KIND_INLINE, KIND_TEXT, MimePart

TEXT_PLAIN = "text/plain"
TEXT_HTML = "text/html"
OCTET_STREAM = "application/octet-stream"
MULTIPART_PREFIX = "multipart/"


def _other_kind(part: MimePart, multipart: bool) -> str:
    if part.disposition == DISPOSITION_ATTACHMENT:
        return KIND_ATTACHMENT
    if part.disposition == DISPOSITION_INLINE:
        return KIND_INLINE
    if not multipart or part.content_type in (OCTET_STREAM, TEXT_PLAIN, TEXT_HTML):
        return KIND_ATTACHMENT
    if part.content_type.startswith(MULTIPART_PREFIX):  # kept whole at the nesting cap
        return KIND_ATTACHMENT
    return KIND_INLINE


def assign_kinds(parts: list[MimePart], multipart: bool) -> list[MimePart]:
    """Set ``kind`` on every leaf (in document order) and return the same list."""
    have_text = have_html = False
    for part in parts:
        body_candidate = part.disposition != DISPOSITION_ATTACHMENT
        if body_candidate and not have_text and part.content_type == TEXT_PLAIN:
            part.kind, have_text = KIND_TEXT, True
        elif body_candidate and not have_html and part.content_type == TEXT_HTML:
            part.kind, have_html = KIND_HTML, True
        elif part.content_type == OCTET_STREAM and part.disposition != DISPOSITION_INLINE:
            part.kind = KIND_ATTACHMENT
        else:
            part.kind = _other_kind(part, multipart)
    return parts
