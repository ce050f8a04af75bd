"""Getting a message ready for the writer: validate part ranges, split and compress blocks."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from mailcapture.errors import StorageError
from mailcapture.storage.base import NewMessage
from mailcapture.storage.sqlite import blocks
from mailcapture.storage.sqlite.rows import new_id
from mailcapture.storage.sqlite.writes import PreparedMessage


def validate(message: NewMessage) -> None:
    size = len(message.raw)
    seen: set[str] = set()
    for part in message.parts:
        part_id = part.record.part_id
        if part_id in seen:
            raise StorageError(f"part {part_id!r} appears twice in one message")
        seen.add(part_id)
        if part.data is None and not 0 <= part.start <= part.end <= size:
            raise StorageError(f"part {part_id!r} has range {part.start}:{part.end} outside the {size}-byte message")
    if not 0 <= message.header_end <= size:
        raise StorageError(f"header_end {message.header_end} is outside the {size}-byte message")


async def prepare(message: NewMessage, level: int, pool: Executor,
                  block_size: int = blocks.BLOCK_SIZE) -> PreparedMessage:
    """Compress every block (and fallback part data) in ``pool``, in parallel."""
    if not isinstance(message.raw, bytes | bytearray):
        raise StorageError("a message's raw content must be bytes")
    validate(message)
    loop = asyncio.get_running_loop()
    pieces = blocks.split(message.raw, block_size)
    data_parts = [(p.record.part_id, p.data) for p in message.parts if p.data is not None]
    if level <= 0:
        packed = [blocks.compress(piece, 0) for piece in pieces]
        packed_data = [blocks.compress(data, 0) for _, data in data_parts]
    else:
        jobs = [loop.run_in_executor(pool, blocks.compress, piece, level) for piece in pieces]
        jobs += [loop.run_in_executor(pool, blocks.compress, data, level) for _, data in data_parts]
        done = await asyncio.gather(*jobs)
        packed, packed_data = list(done[: len(pieces)]), list(done[len(pieces):])
    return PreparedMessage(
        id=new_id(), message=message, block_size=block_size, blocks=packed,
        part_data={part_id: payload for (part_id, _), payload in zip(data_parts, packed_data, strict=True)},
    )
