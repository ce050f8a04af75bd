"""Is jemalloc really the allocator of this process? Detected with stdlib ctypes only.

``LD_PRELOAD=libjemalloc.so.2`` makes its ``mallctl`` visible in the global symbol namespace; under
glibc malloc the symbol does not exist. Used by the service and by every worker.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so.2",
)
ALL_ARENAS = 4096  # MALLCTL_ARENAS_ALL


@dataclass(frozen=True)
class JemallocInfo:
    active: bool
    version: str = ""


def find_library() -> str | None:
    for path in CANDIDATES:
        if os.path.exists(path):
            return path
    return None


def _mallctl() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        lib = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(lib, "mallctl"):
        return None
    fn = lib.mallctl
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    return fn


def info() -> JemallocInfo:
    fn = _mallctl()
    if fn is None:
        return JemallocInfo(False)
    version = ctypes.c_char_p()
    size = ctypes.c_size_t(ctypes.sizeof(version))
    if fn(b"version", ctypes.byref(version), ctypes.byref(size), None, 0) != 0 or version.value is None:
        return JemallocInfo(True, "unknown")
    return JemallocInfo(True, version.value.decode(errors="replace"))


def active_bytes() -> int | None:
    """jemalloc's ``stats.active`` (bytes in active pages), or None without jemalloc."""
    fn = _mallctl()
    if fn is None:
        return None
    epoch = ctypes.c_uint64(1)
    fn(b"epoch", None, None, ctypes.byref(epoch), ctypes.sizeof(epoch))
    value = ctypes.c_size_t()
    size = ctypes.c_size_t(ctypes.sizeof(value))
    if fn(b"stats.active", ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        return None
    return value.value


def purge() -> bool:
    """Return dirty pages of every arena to the OS; False without jemalloc."""
    fn = _mallctl()
    if fn is None:
        return False
    return bool(fn(f"arena.{ALL_ARENAS}.purge".encode(), None, None, None, 0) == 0)
