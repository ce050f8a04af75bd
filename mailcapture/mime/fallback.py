"""The slow path: the standard library's parser, for messages the fast path cannot describe.

Leaves carry decoded ``data`` (offsets are -1). Nesting is walked iteratively and capped.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser

from .entity import DEFAULT_TYPE, entity_info
from .fast import MAX_DEPTH, MAX_PARTS, leaf_part
from .headers import POLICY
from .model import MimePart

MAX_DEFECTS_PER_PART = 5


def _payload_bytes(msg: Message) -> bytes:
    payload = msg.get_payload()
    if isinstance(payload, list):
        # message/rfc822 (or a multipart cut off at the depth cap): give the entity's own bytes.
        try:
            return b"".join(part.as_bytes() for part in payload if isinstance(part, Message))
        except Exception:  # unrepresentable content: keep the part, empty
            return b""
    data = msg.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def stdlib_leaves(raw: bytes, defects: list[str]) -> tuple[list[MimePart], bool]:
    """Leaves in document order, and whether the message is (usable as) multipart."""
    root = BytesParser(policy=POLICY).parsebytes(raw)
    leaves: list[MimePart] = []
    multipart = isinstance(root.get_payload(), list) and entity_info(root).is_multipart
    # (entity, part id, depth, default content type)
    stack: list[tuple[Message, str, int, str]] = [(root, "", 0, DEFAULT_TYPE)]
    while stack:
        msg, part_id, depth, default_type = stack.pop()
        defects.extend(f"part {part_id or 'root'}: {type(d).__name__}" for d in msg.defects[:MAX_DEFECTS_PER_PART])
        info = entity_info(msg, default_type)
        payload = msg.get_payload()
        if info.is_multipart and isinstance(payload, list) and depth < MAX_DEPTH:
            children = [child for child in payload if isinstance(child, Message)]
            for index in range(len(children), 0, -1):
                child_id = f"{part_id}.{index}" if part_id else str(index)
                stack.append((children[index - 1], child_id, depth + 1, info.child_default_type))
            continue
        if info.is_multipart:
            if depth >= MAX_DEPTH:
                defects.append(f"multipart nesting deeper than {MAX_DEPTH} at part {part_id}: kept as one part")
            else:
                # A multipart whose boundary never appears: its body is just text.
                info.content_type = DEFAULT_TYPE
        if len(leaves) >= MAX_PARTS:
            defects.append(f"more than {MAX_PARTS} parts: the rest are not listed")
            break
        part = leaf_part(info, part_id or "1", -1, -1)
        part.data = _payload_bytes(msg)
        leaves.append(part)
    return leaves, multipart
