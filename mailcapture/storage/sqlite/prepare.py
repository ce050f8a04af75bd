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
    if not isinstance(message.raw, bytes | bytearray):
        raise StorageError("a message's raw content must be bytes")
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


Packed = list[tuple[int, bytes | memoryview]]


async def compress_all(items: list[bytes | memoryview], level: int, pool: Executor) -> Packed:
    """Compress each item (in ``pool``, in parallel, when compressing at all)."""
    if level <= 0:
        return [blocks.compress(item, 0) for item in items]
    loop = asyncio.get_running_loop()
    return list(await asyncio.gather(*(loop.run_in_executor(pool, blocks.compress, item, level)
                                       for item in items)))


def prepare_now(message: NewMessage, level: int, block_size: int) -> PreparedMessage:
    """``prepare`` without the blocks (inserted separately) and compressing in the calling thread: for
    the writer thread (fallback part data is rare and small)."""
    validate(message)
    return PreparedMessage(
        id=new_id(), message=message, block_size=block_size, blocks=[],
        part_data={p.record.part_id: blocks.compress(p.data, level) for p in message.parts if p.data is not None},
    )


async def prepare(message: NewMessage, level: int, pool: Executor,
                  block_size: int = blocks.BLOCK_SIZE) -> PreparedMessage:
    """Compress every block and the fallback part data."""
    validate(message)
    packed = await compress_all(list(blocks.split(message.raw, block_size)), level, pool)
    data_parts = [(p.record.part_id, p.data) for p in message.parts if p.data is not None]
    packed_data = await compress_all([data for _, data in data_parts], level, pool)
    return PreparedMessage(
        id=new_id(), message=message, block_size=block_size, blocks=packed,
        part_data={part_id: payload for (part_id, _), payload in zip(data_parts, packed_data, strict=True)},
    )
