"""Compiling a search :class:`~mailcapture.search.Query` to a parameterised SQL condition on ``m``."""

from __future__ import annotations

from datetime import datetime

from mailcapture.errors import BadRequest
from mailcapture.search import Query, Term
from mailcapture.storage.sqlite.rows import to_micros
from mailcapture.storage.sqlite.schema import Tables

LIKE_ESCAPE = "\\"
MATCH_ALL = "1"

# text filters -> the lower-cased columns they search
_COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("m.search_text",),
    "from": ("m.from_s",),
    "to": ("m.to_s",),
    "cc": ("m.cc_s",),
    "bcc": ("m.bcc_s",),
    "reply-to": ("m.reply_to_s",),
    "addressed": ("m.to_s", "m.cc_s", "m.bcc_s"),
    "subject": ("m.subject_s",),
    "message-id": ("m.message_id",),
}


def like_pattern(value: str) -> str:
    """``%value%`` with LIKE's wildcards in ``value`` escaped."""
    escaped = value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"


def _text(term: Term) -> str:
    if not isinstance(term.value, str):
        raise BadRequest(f"{term.field}: needs text")
    return term.value.lower()


def _micros(term: Term) -> int:
    if not isinstance(term.value, datetime):
        raise BadRequest(f"{term.field}: needs a date")
    return to_micros(term.value)


def _size(term: Term) -> int:
    if not isinstance(term.value, int) or isinstance(term.value, bool):
        raise BadRequest(f"{term.field}: needs a size")
    return term.value


def _term(term: Term, tables: Tables) -> tuple[str, list[object]]:
    field = term.field
    if field in _COLUMNS:
        pattern = like_pattern(_text(term))
        columns = _COLUMNS[field]
        sql = " OR ".join(f"{c} LIKE ? ESCAPE '{LIKE_ESCAPE}'" for c in columns)
        return sql, [pattern] * len(columns)
    if field == "tag":
        return (
            f"EXISTS (SELECT 1 FROM {tables.message_tags} mt JOIN {tables.tags} t ON t.id = mt.tag "
            "WHERE mt.message = m.pk AND t.name = ?)",
            [_text(term)],
        )
    if field == "is":
        flag = _text(term)
        if flag == "read":
            return "m.read = 1", []
        if flag == "unread":
            return "m.read = 0", []
        if flag == "tagged":
            return f"EXISTS (SELECT 1 FROM {tables.message_tags} mt WHERE mt.message = m.pk)", []
    elif field == "has":
        flag = _text(term)
        if flag == "attachment":
            return "m.attachments > 0", []
        if flag == "inline":
            return "m.inlines > 0", []
    elif field == "after":
        return "m.created > ?", [_micros(term)]
    elif field == "before":
        return "m.created < ?", [_micros(term)]
    elif field == "larger":
        return "m.size >= ?", [_size(term)]
    elif field == "smaller":
        return "m.size <= ?", [_size(term)]
    raise BadRequest(f"unsupported search filter {field}:{term.value}")


def compile_query(query: Query | None, tables: Tables) -> tuple[str, list[object]]:
    """``(condition, params)`` matching messages aliased ``m``; every term must match."""
    if query is None or not query.terms:
        return MATCH_ALL, []
    clauses: list[str] = []
    params: list[object] = []
    for term in query.terms:
        sql, values = _term(term, tables)
        clauses.append(f"NOT ({sql})" if term.negate else f"({sql})")
        params.extend(values)
    return " AND ".join(clauses), params
