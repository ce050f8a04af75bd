"""Stream a blob from the capture service: sniff its type, enforce the size limit while reading,
and keep it in memory only when small (larger inputs go to a private temp file).

An image whose worker is free right now is not read here at all: the open response goes with the job
and its chunks are passed on to the worker as they arrive (:class:`Download`), so the worker decodes
while the rest of the file is still on its way."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Callable
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


class Download:
    """The rest of an open blob response, after its head: chunks as they arrive, within the limit."""

    def __init__(self, blob_id: str, resp: aiohttp.ClientResponse, received: int, limit: int, limit_name: str,
                 timeout: float) -> None:
        self.blob_id = blob_id
        self._resp = resp
        self.received = received
        self._limit = limit
        self._limit_name = limit_name
        self._timeout = timeout

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                chunk = await self._resp.content.read(READ_CHUNK)
                if not chunk:
                    return
                self.received += len(chunk)
                if self.received > self._limit:
                    raise TooLarge(f"the file is larger than {self._limit_name} ({self._limit / MB:g} MB); "
                                   "stopped reading")
                yield chunk
        except TimeoutError:
            raise TimeoutFailure(f"reading blob {self.blob_id} from the capture service took longer than "
                                 f"PREVIEWER_FETCH_TIMEOUT ({self._timeout:g} s)") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"cannot read blob {self.blob_id} from the capture service: {exc}") from None

    def close(self) -> None:
        self._resp.release()  # back to the pool when read to the end, else the connection is closed


@dataclass
class Blob:
    sniffed: Sniffed
    size: int
    declared_type: str
    payload: bytes = b""
    path: str | None = None
    stream: Download | None = None  # set: ``payload`` is the head, the rest comes from here

    async def cleanup(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            stream.close()
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

    def limit_for(self, sniffed: Sniffed) -> tuple[int, str]:
        """The file size limit for this kind of input, and the setting that sets it."""
        if sniffed.is_video:
            return self.video_limit, "PREVIEWER_VIDEO_SIZE_LIMIT"
        return self.file_limit, "THUMBNAIL_IMAGE_SIZE_LIMIT"

    def check_size(self, sniffed: Sniffed, size: int) -> None:
        limit, name = self.limit_for(sniffed)
        if size > limit:
            raise TooLarge(f"the file is {size / MB:.1f} MB, over {name} ({limit / MB:g} MB)")


class Fetcher:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, spool_dir: str, limits: FetchLimits) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._spool_dir = spool_dir
        self._limits = limits

    @property
    def limits(self) -> FetchLimits:
        return self._limits

    async def fetch(self, blob_id: str, stream_if: Callable[[Sniffed], bool] | None = None) -> Blob:
        """The blob, read whole (in memory or spooled); or, when ``stream_if(sniffed)`` says so, its head
        and the still open response (``Blob.stream``; the caller must ``cleanup()``)."""
        url = f"{self._base}/internal/blob/{blob_id}"
        timeout = aiohttp.ClientTimeout(total=self._limits.timeout)
        resp: aiohttp.ClientResponse | None = None
        try:
            resp = await self._session.get(url, timeout=timeout)
            if resp.status == 404:
                raise NotFound(f"no attachment with id {blob_id}")
            if resp.status != 200:
                raise UpstreamError(f"the capture service answered {resp.status} for blob {blob_id}")
            blob, download = await self._open(blob_id, resp)
            if stream_if is not None and stream_if(blob.sniffed):
                blob.stream, resp = download, None
                return blob
            return await self._read(blob, download)
        except TimeoutError:
            raise TimeoutFailure(f"reading blob {blob_id} from the capture service took longer than "
                                 f"PREVIEWER_FETCH_TIMEOUT ({self._limits.timeout:g} s)") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"cannot read blob {blob_id} from the capture service: {exc}") from None
        finally:
            if resp is not None:
                resp.release()

    async def _open(self, blob_id: str, resp: aiohttp.ClientResponse) -> tuple[Blob, Download]:
        """Read and sniff the head; refuse a declared length over the limit before reading more."""
        declared = resp.headers.get("Content-Type", "")
        head = bytearray()
        while len(head) < SNIFF_BYTES:
            chunk = await resp.content.read(SNIFF_BYTES - len(head))
            if not chunk:
                break
            head += chunk
        sniffed = sniff(bytes(head), declared, self._limits.test_hooks)
        limit, limit_name = self._limits.limit_for(sniffed)
        length = resp.content_length
        if length is not None:
            self._limits.check_size(sniffed, length)
        blob = Blob(sniffed, length if length is not None else len(head), declared, payload=bytes(head))
        return blob, Download(blob_id, resp, len(head), limit, limit_name, self._limits.timeout)

    async def _read(self, blob: Blob, download: Download) -> Blob:
        buf = bytearray(blob.payload)
        blob.payload = b""
        fd: int | None = None
        try:
            if download.received > self._limits.spool_threshold:
                fd, blob.path = tempfile.mkstemp(prefix="blob-", dir=self._spool_dir)
            async for chunk in download.chunks():
                buf += chunk
                if fd is None and download.received > self._limits.spool_threshold:
                    fd, blob.path = tempfile.mkstemp(prefix="blob-", dir=self._spool_dir)
                if fd is not None and len(buf) >= WRITE_CHUNK:
                    await asyncio.to_thread(_write_all, fd, buf)
                    buf = bytearray()
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
        blob.size = download.received
        return blob
