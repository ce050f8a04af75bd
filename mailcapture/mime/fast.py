"""The fast path: MIME structure from byte offsets, found with ``bytes.find`` (no per-line loop).

Only header blocks are read line by line; bodies are located by searching for delimiter lines,
so the cost grows with the number of parts, not with the size of the message.
"""

from __future__ import annotations

import re

from .entity import EntityInfo, entity_info
from .headers import find_header_end, parse_header_block
from .model import KIND_ATTACHMENT, MimePart

MAX_DEPTH = 100  # multipart nesting we descend into; deeper content is kept as one opaque leaf
MAX_PARTS = 10_000  # leaves per message; parts beyond are not listed
_PADDING = re.compile(rb"[ \t]*")
_CLOSE = b"--"
_LF = 0x0A
_CR = 0x0D


class NeedFallback(Exception):
    """The fast path cannot describe this message faithfully; use the standard parser."""


def leaf_part(info: EntityInfo, part_id: str, start: int, end: int) -> MimePart:
    return MimePart(
        part_id=part_id,
        kind=KIND_ATTACHMENT,
        content_type=info.content_type,
        charset=info.charset,
        filename=info.filename,
        content_id=info.content_id,
        disposition=info.disposition,
        encoding=info.encoding,
        start=start,
        end=end,
    )


class FastParser:
    def __init__(self, raw: bytes, defects: list[str]) -> None:
        self.raw = raw
        self.defects = defects
        self.leaves: list[MimePart] = []
        self.truncated = False

    def run(self, top: EntityInfo, body_start: int) -> tuple[list[MimePart], bool]:
        """Leaves in document order, and whether the message is multipart."""
        self._entity(top, body_start, len(self.raw), "", 0)
        return self.leaves, top.is_multipart

    def _entity(self, info: EntityInfo, start: int, end: int, part_id: str, depth: int) -> None:
        if not info.is_multipart:
            self._leaf(info, part_id or "1", start, end)
            return
        if depth >= MAX_DEPTH:
            # Listed first: it explains the message better than the defects of the levels above.
            self.defects.insert(0, f"multipart nesting deeper than {MAX_DEPTH} at part {part_id}: kept as one part")
            self._leaf(info, part_id or "1", start, end)
            return
        if not info.boundary:
            raise NeedFallback(f"multipart without boundary at part {part_id or 'root'}")
        children = self._split(info.boundary, start, end, part_id)
        for index, (child_start, child_end) in enumerate(children, start=1):
            child_id = f"{part_id}.{index}" if part_id else str(index)
            body_start, _separated = find_header_end(self.raw, child_start, child_end)
            child = entity_info(parse_header_block(self.raw[child_start:body_start]), info.child_default_type)
            self._entity(child, body_start, child_end, child_id, depth + 1)

    def _leaf(self, info: EntityInfo, part_id: str, start: int, end: int) -> None:
        if len(self.leaves) >= MAX_PARTS:
            if not self.truncated:
                self.truncated = True
                self.defects.append(f"more than {MAX_PARTS} parts: the rest are not listed")
            return
        self.leaves.append(leaf_part(info, part_id, start, end))

    def _split(self, boundary: str, start: int, end: int, part_id: str) -> list[tuple[int, int]]:
        """Body ranges of the children of a multipart whose body is ``raw[start:end]``."""
        try:
            delimiter = b"--" + boundary.encode("ascii")
        except UnicodeEncodeError:
            delimiter = b"--" + boundary.encode("utf-8")
        first = self._find_delimiter(delimiter, start, end, at_start=True)
        if first is None:
            raise NeedFallback(f"boundary of part {part_id or 'root'} not found")
        _, cursor, closed = first
        ranges: list[tuple[int, int]] = []
        while not closed:
            found = self._find_delimiter(delimiter, max(start, cursor - 1), end, at_start=False)
            if found is None:
                self.defects.append(f"missing closing boundary in part {part_id or 'root'}")
                ranges.append((cursor, end))
                break
            line_start, after, closed = found
            part_end = line_start - 1 if line_start > cursor and self.raw[line_start - 1] == _CR else line_start
            ranges.append((cursor, max(cursor, part_end)))
            cursor = after
            if len(ranges) > MAX_PARTS:
                self.defects.append(f"more than {MAX_PARTS} parts in part {part_id or 'root'}")
                break
        return ranges

    def _find_delimiter(self, delimiter: bytes, pos: int, end: int, at_start: bool) -> tuple[int, int, bool] | None:
        """Next delimiter line at or after ``pos``: (index of the line feed before it, index after
        the line, is closing). With ``at_start`` a delimiter right at ``pos`` counts too."""
        raw = self.raw
        if at_start and raw.startswith(delimiter, pos, end):
            checked = self._after_delimiter(pos + len(delimiter), end)
            if checked is not None:
                return pos, checked[0], checked[1]
        needle = b"\n" + delimiter
        while True:
            hit = raw.find(needle, pos, end)
            if hit < 0:
                return None
            checked = self._after_delimiter(hit + len(needle), end)
            if checked is not None:
                return hit, checked[0], checked[1]
            pos = hit + 1

    def _after_delimiter(self, pos: int, end: int) -> tuple[int, bool] | None:
        """Validate what follows "--boundary": optional "--", transport padding, end of line."""
        raw = self.raw
        closed = raw.startswith(_CLOSE, pos, end)
        if closed:
            pos += len(_CLOSE)
        padding = _PADDING.match(raw, pos, end)
        pos = padding.end() if padding else pos
        if pos >= end:
            return end, closed
        if raw[pos] == _LF:
            return pos + 1, closed
        if raw[pos] == _CR:
            if pos + 1 == end:
                return end, closed
            if raw[pos + 1] == _LF:
                return pos + 2, closed
        return None
