"""Which leaf is the text body, the HTML body, an inline part or an attachment (Mailpit/enmime)."""

from __future__ import annotations

from .entity import DISPOSITION_ATTACHMENT, DISPOSITION_INLINE
from .fast import Leaf
from .model import KIND_ATTACHMENT, KIND_HTML, KIND_INLINE, KIND_TEXT, MimePart


def assign_kinds(leaves: list[Leaf]) -> list[MimePart]:
    """The first text/plain and the first text/html leaf not marked as attachments are the
    bodies; other leaves are inline when disposed inline or referenced by Content-ID inside a
    multipart/related; everything else (a second body alternative included) is an attachment."""
    have_text = have_html = False
    parts: list[MimePart] = []
    for leaf in leaves:
        part = leaf.part
        body_candidate = part.disposition != DISPOSITION_ATTACHMENT
        if body_candidate and not have_text and part.content_type == "text/plain":
            part.kind, have_text = KIND_TEXT, True
        elif body_candidate and not have_html and part.content_type == "text/html":
            part.kind, have_html = KIND_HTML, True
        elif part.disposition == DISPOSITION_INLINE or (leaf.in_related and part.content_id):
            part.kind = KIND_INLINE
        else:
            part.kind = KIND_ATTACHMENT
        parts.append(part)
    return parts
