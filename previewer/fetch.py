"""Stream a blob from the capture service: sniff its type, enforce the size limit while reading,
and keep it in memory only when small (larger inputs and every video go to a private temp file)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from dataclasses import dataclass

import aiohttp

from previewer.errors import BadRequest, NotFound, TooLarge, UpstreamError
from previewer.errors import Timeout as TimeoutFailure
from previewer.sniff import SNIFF_BYTES, Sniffed, sniff

READ_CHUNK = 256 * 1024
WRITE_CHUNK = 4 * 1024 * 1024  # bytes buffered before one write to the temp file
BLOB_ID = re.compile(r"^[0-9a-f]{64}$")
MB = 1024 * 1024


def check_id(blob_id: str) -> str:
    value = blob_id.strip().lower()
    if not BLOB_ID.match(value):
        raise BadRequest("the id must be the 64-character hex SHA-256 of the attachment")
    return value


@dataclass
class Blob:
    sniffed: Sniffed
    size: int
    declared_type: str
    payload: bytes = b""
    path: str | None = None

    async def cleanup(self) -> None:
        if self.path is not None:
            path, self.path = self.path, None
            await asyncio.to_thread(_unlink, path)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@dataclass(frozen=True)
class FetchLimits:
    file_limit: int  # images, PDF, SVG, PSD
    video_limit: int
    spool_threshold: int
    timeout: float
    test_hooks: bool = False


class Fetcher:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, spool_dir: str, limits: FetchLimits) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._spool_dir = spool_dir
        self._limits = limits

    def _limit_for(self, sniffed: Sniffed) -> tuple[int, str]:
        if sniffed.is_video:
            return self._limits.video_limit, "PREVIEWER_VIDEO_SIZE_LIMIT"
        return self._limits.file_limit, "THUMBNAIL_IMAGE_SIZE_LIMIT"

    async def fetch(self, blob_id: str) -> Blob:
        url = f"{self._base}/internal/blob/{blob_id}"
        timeout = aiohttp.ClientTimeout(total=self._limits.timeout)
        try:
            async with self._session.get(url, timeout=timeout) as resp:
                if resp.status == 404:
                    raise NotFound(f"no attachment with id {blob_id}")
                if resp.status != 200:
                    raise UpstreamError(f"the capture service answered {resp.status} for blob {blob_id}")
                return await self._read(resp)
        except TimeoutError:
            raise TimeoutFailure(f"reading blob {blob_id} from the capture service took longer than "
                                 f"PREVIEWER_FETCH_TIMEOUT ({self._limits.timeout:g} s)") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"cannot read blob {blob_id} from the capture service: {exc}") from None

    async def _read(self, resp: aiohttp.ClientResponse) -> Blob:
        declared = resp.headers.get("Content-Type", "")
        head = bytearray()
        while len(head) < SNIFF_BYTES:
            chunk = await resp.content.read(SNIFF_BYTES - len(head))
            if not chunk:
                break
            head += chunk
        sniffed = sniff(bytes(head), declared, self._limits.test_hooks)
        limit, limit_name = self._limit_for(sniffed)
        length = resp.content_length
        if length is not None and length > limit:
            raise TooLarge(f"the file is {length / MB:.1f} MB, over {limit_name} ({limit / MB:g} MB)")
        blob = Blob(sniffed, 0, declared)
        buf = head
        total = len(head)
        fd: int | None = None
        try:
            while True:
                if fd is None and (sniffed.is_video or total > self._limits.spool_threshold):
                    fd, blob.path = tempfile.mkstemp(prefix="blob-", dir=self._spool_dir)
                if fd is not None and len(buf) >= WRITE_CHUNK:
                    await asyncio.to_thread(_write_all, fd, buf)
                    buf = bytearray()
                chunk = await resp.content.read(READ_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise TooLarge(f"the file is larger than {limit_name} ({limit / MB:g} MB); stopped reading")
                buf += chunk
            if fd is not None:
                if buf:
                    await asyncio.to_thread(_write_all, fd, buf)
            else:
                blob.payload = bytes(buf)
        except BaseException:
            await blob.cleanup()
            raise
        finally:
            if fd is not None:
                os.close(fd)
        blob.size = total
        return blob
