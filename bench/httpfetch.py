"""Attachment fetch timing over HTTP (keep-alive ``http.client``, 127.0.0.1 only).

* mailcapture (Mailpit API): ``GET /api/v1/messages`` -> ID of a large message, ``GET /api/v1/message/{ID}`` ->
  ``Attachments[4].PartID``, then ``GET /api/v1/message/{ID}/part/{PartID}`` timed ``repeats`` times.
* MailDev: ``GET /api/email`` -> id, ``attachments[4].generatedFileName``, then
  ``GET /api/email/{id}/attachment/{generatedFileName}`` timed.

Each fetched body is checked against the generated attachment (length every time, SHA-256 once), so a fast
but wrong answer is reported as an error rather than a figure.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

HOST = "127.0.0.1"
HTTP_TIMEOUT_S = 60.0
ATTACHMENT_INDEX = 4  # the 5th attachment
SUBJECT_RE = re.compile(r"Large benchmark message (\d+)")
READ_CHUNK = 1 << 20


class FetchError(RuntimeError):
    pass


@dataclass
class FetchResult:
    route: str = ""
    size: int = 0
    times: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def p50_ms(self) -> float:
        return 1000 * statistics.median(self.times) if self.times else 0.0

    @property
    def p99_ms(self) -> float:
        if not self.times:
            return 0.0
        ordered = sorted(self.times)
        return 1000 * ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "size": self.size, "repeats": len(self.times), "p50_ms": round(self.p50_ms, 2),
                "p99_ms": round(self.p99_ms, 2), "times_ms": [round(1000 * t, 2) for t in self.times],
                "error": self.error}


def _get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path)
    resp = conn.getresponse()
    chunks = []
    while chunk := resp.read(READ_CHUNK):
        chunks.append(chunk)
    body = b"".join(chunks)
    if resp.status != 200:
        raise FetchError(f"GET {path}: HTTP {resp.status}: {body[:200]!r}")
    return body


def _get_json(conn: http.client.HTTPConnection, path: str) -> Any:
    body = _get(conn, path)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FetchError(f"GET {path}: not JSON: {body[:200]!r}") from exc


def _time_fetches(conn: http.client.HTTPConnection, path: str, expected: bytes, repeats: int) -> FetchResult:
    result = FetchResult(route=path, size=len(expected))
    want_sha = hashlib.sha256(expected).digest()
    for n in range(repeats):
        t0 = time.perf_counter()
        body = _get(conn, path)
        result.times.append(time.perf_counter() - t0)
        if len(body) != len(expected) or (n == 0 and hashlib.sha256(body).digest() != want_sha):
            raise FetchError(f"GET {path}: body of {len(body)} B differs from the {len(expected)} B sent")
    return result


def _message_index(subject: str) -> int:
    match = SUBJECT_RE.search(subject or "")
    if match is None:
        raise FetchError(f"not a large benchmark message: subject {subject!r}")
    return int(match.group(1))


def fetch_mailcapture(port: int, attachment_of: Callable[[int], bytes], repeats: int) -> FetchResult:
    """``attachment_of(i)``: the decoded bytes of the 5th attachment of large message ``i``."""
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT_S)
    try:
        listing = _get_json(conn, "/api/v1/messages?limit=50")
        large = [m for m in listing.get("messages", []) if SUBJECT_RE.search(m.get("Subject", ""))]
        if not large:
            raise FetchError(f"no large benchmark message in /api/v1/messages (total {listing.get('total')})")
        summary = large[0]
        msg_id = summary["ID"]
        message = _get_json(conn, f"/api/v1/message/{quote(msg_id)}")
        attachments = message.get("Attachments") or []
        if len(attachments) <= ATTACHMENT_INDEX:
            raise FetchError(f"message {msg_id} lists {len(attachments)} attachments, expected 5")
        part_id = attachments[ATTACHMENT_INDEX]["PartID"]
        expected = attachment_of(_message_index(summary.get("Subject", "")))
        path = f"/api/v1/message/{quote(msg_id)}/part/{quote(str(part_id))}"
        return _time_fetches(conn, path, expected, repeats)
    finally:
        conn.close()


def fetch_maildev(port: int, attachment_of: Callable[[int], bytes], repeats: int) -> FetchResult:
    conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT_S)
    try:
        emails = _get_json(conn, "/api/email")
        large = [e for e in emails if SUBJECT_RE.search(e.get("subject", ""))]
        if not large:
            raise FetchError(f"no large benchmark message among {len(emails)} in /api/email")
        email = large[-1]
        attachments = email.get("attachments") or []
        if len(attachments) <= ATTACHMENT_INDEX:
            raise FetchError(f"email {email.get('id')} lists {len(attachments)} attachments, expected 5")
        name = attachments[ATTACHMENT_INDEX]["generatedFileName"]
        expected = attachment_of(_message_index(email.get("subject", "")))
        path = f"/api/email/{quote(email['id'])}/attachment/{quote(name)}"
        return _time_fetches(conn, path, expected, repeats)
    finally:
        conn.close()
