"""HTML to plain text for snippets and search: linear-time regexes, standard library only."""

from __future__ import annotations

import html
import re

# Elements whose content is never shown as text; everything up to the closing tag is dropped.
_HIDDEN_OPEN = re.compile(r"<(script|style|title|template)\b[^<>]*>", re.IGNORECASE)
_HIDDEN_CLOSE = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "title", "template")}
_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"
# Tags that separate words when rendered (block-level elements and line breaks).
_BLOCK_TAG = re.compile(
    r"</?(?:address|article|aside|blockquote|br|caption|dd|div|dl|dt|fieldset|figcaption|figure|"
    r"footer|form|h[1-6]|header|hr|img|li|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|"
    r"thead|tr|ul)\b[^<>]*>",
    re.IGNORECASE,
)
# "[^<>]" keeps a stray "<" from making the scan quadratic.
_ANY_TAG = re.compile(r"<[!/?]?[a-zA-Z][^<>]*>|<![^<>]*>")
_WHITESPACE = re.compile(r"\s+")


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document, entities unescaped, whitespace collapsed to single spaces."""
    text = _drop_comments(markup)
    text = _drop_hidden(text)
    text = _BLOCK_TAG.sub(" ", text)
    text = _ANY_TAG.sub("", text)
    text = html.unescape(text)
    return _WHITESPACE.sub(" ", text).strip()


def _drop_comments(markup: str) -> str:
    if _COMMENT_OPEN not in markup:
        return markup
    kept: list[str] = []
    pos = 0
    while True:
        start = markup.find(_COMMENT_OPEN, pos)
        if start < 0:
            kept.append(markup[pos:])
            break
        kept.append(markup[pos:start])
        end = markup.find(_COMMENT_CLOSE, start + len(_COMMENT_OPEN))
        if end < 0:  # an unclosed comment hides the rest of the document
            break
        pos = end + len(_COMMENT_CLOSE)
    return " ".join(kept)


def _drop_hidden(markup: str) -> str:
    kept: list[str] = []
    pos = 0
    while True:
        match = _HIDDEN_OPEN.search(markup, pos)
        if match is None:
            kept.append(markup[pos:])
            break
        kept.append(markup[pos : match.start()])
        close = _HIDDEN_CLOSE[match.group(1).lower()].search(markup, match.end())
        if close is None:  # unclosed: the rest is hidden, as a browser would treat it
            break
        pos = close.end()
    return " ".join(kept)
