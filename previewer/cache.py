"""Disk cache of finished thumbnails: ``<root>/<generation>/<size>/<id[:2]>/<id>.<ext>``.

The generation is the renderer's tag (``service.render_tag``, also in every ETag): thumbnails made by
another version of the renderer are never served under this one's strong ETag, and are deleted at
start-up.

Written atomically (private temp file in the same directory, then ``os.replace``) so a reader never
sees half a file. An in-memory index (loaded at start-up) keeps lookups off the disk and orders
entries by last use; past ``max_bytes`` the least recently used files are deleted. All file I/O runs
in threads; the index is only touched on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from previewer.metrics import Metrics

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
EVICT_TO = 0.9  # evict down to this fraction of max_bytes
MIME_BY_EXT = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}

Key = tuple[str, int]  # (id, size)


@dataclass(frozen=True)
class Entry:
    path: str
    nbytes: int
    mime: str


class DiskCache:
    def __init__(self, root: str, max_bytes: int, metrics: Metrics, generation: str = "") -> None:
        self.base = Path(root) if root else None
        self.generation = generation
        self.root = (self.base / generation if generation else self.base) if self.base is not None else None
        self.max_bytes = max_bytes
        self.metrics = metrics
        self._index: OrderedDict[Key, Entry] = OrderedDict()
        self.total = 0

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def __len__(self) -> int:
        return len(self._index)

    async def load(self) -> None:
        if self.root is None or self.base is None:
            return
        if self.generation:
            await asyncio.to_thread(_remove_other_generations, self.base, self.generation)
        entries = await asyncio.to_thread(_scan, self.root)
        for key, entry in entries:
            self._index[key] = entry
            self.total += entry.nbytes
        self.metrics.cache_bytes.set(self.total)
        await self._evict()
        log.info("disk cache %s: %d thumbnails, %.1f MB", self.root, len(self._index), self.total / 2**20)

    def lookup(self, key: Key) -> Entry | None:
        entry = self._index.get(key)
        if entry is not None:
            self._index.move_to_end(key)
        return entry

    async def read(self, key: Key) -> tuple[bytes, str] | None:
        if self.root is None:
            return None
        entry = self.lookup(key)
        if entry is None:
            self.metrics.cache_misses.inc()
            return None
        try:
            data = await asyncio.to_thread(Path(entry.path).read_bytes)
        except OSError:
            self._drop(key)
            self.metrics.cache_misses.inc()
            return None
        self.metrics.cache_hits.inc()
        return data, entry.mime

    async def store(self, key: Key, data: bytes, ext: str) -> None:
        if self.root is None:
            return
        blob_id, size = key
        target = self.root / str(size) / blob_id[:2] / f"{blob_id}.{ext}"
        try:
            await asyncio.to_thread(_atomic_write, target, data)
        except OSError as exc:
            log.warning("cannot write %s to the cache: %s", target, exc)
            return
        old = self._index.pop(key, None)
        if old is not None:
            self.total -= old.nbytes
            if old.path != str(target):
                await asyncio.to_thread(_unlink, old.path)
        self._index[key] = Entry(str(target), len(data), MIME_BY_EXT.get(ext, "application/octet-stream"))
        self.total += len(data)
        await self._evict()
        self.metrics.cache_bytes.set(self.total)

    def _drop(self, key: Key) -> Entry | None:
        entry = self._index.pop(key, None)
        if entry is not None:
            self.total -= entry.nbytes
        return entry

    async def _evict(self) -> None:
        if self.total <= self.max_bytes:
            return
        victims: list[str] = []
        goal = int(self.max_bytes * EVICT_TO)
        while self._index and self.total > goal:
            _, entry = self._index.popitem(last=False)
            self.total -= entry.nbytes
            victims.append(entry.path)
        self.metrics.cache_evictions.inc(len(victims))
        self.metrics.cache_bytes.set(self.total)
        await asyncio.to_thread(_unlink_many, victims)


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _unlink_many(paths: list[str]) -> None:
    for path in paths:
        _unlink(path)


def _remove_other_generations(base: Path, generation: str) -> None:
    """Delete thumbnails of other renderer versions: sibling generation directories (12 hex digits) and
    the layout without generations (size directories right under the base). Nothing else is touched."""
    if not base.is_dir():
        return
    for child in base.iterdir():
        name = child.name
        old_generation = len(name) == len(generation) and name != generation and \
            all(c in "0123456789abcdef" for c in name)
        if child.is_dir() and (old_generation or name.isdigit()):
            shutil.rmtree(child, ignore_errors=True)
            log.info("removed the thumbnails of another renderer version: %s", child)


def _scan(root: Path) -> list[tuple[Key, Entry]]:
    """Existing thumbnails, oldest first; removes temp files a crash left behind."""
    found: list[tuple[float, Key, Entry]] = []
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        return []
    for size_dir in root.iterdir():
        if not size_dir.is_dir() or not size_dir.name.isdigit():
            continue
        for shard in size_dir.iterdir():
            if not shard.is_dir():
                continue
            for file in shard.iterdir():
                if file.name.startswith(TEMP_PREFIX):
                    _unlink(str(file))
                    continue
                blob_id, _, ext = file.name.partition(".")
                st = file.stat()
                if ext not in MIME_BY_EXT or st.st_size == 0:
                    continue
                entry = Entry(str(file), st.st_size, MIME_BY_EXT[ext])
                found.append((st.st_mtime, (blob_id, int(size_dir.name)), entry))
    found.sort(key=lambda item: item[0])
    return [(key, entry) for _, key, entry in found]
