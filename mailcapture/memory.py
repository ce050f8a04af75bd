"""Allocator tuning for the capture service (glibc only; a no-op elsewhere).

glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB), after which
multi-megabyte buffers (a received message, decoded parts, compressed blocks) come from the heaps of
the threads that used them and stay there. Fixing the threshold at 1 MiB sends such buffers back to
the kernel when freed. Measured (bench/smtp_bench.py, 37.5 MB messages, level 1): peak RSS about
183 MB instead of 215 MB, and 69 MB instead of 83-98 MB for small mail.

Capping glibc's arenas at one per core matters as much for speed: with up to 8 arenas per core (one
per busy thread: the event loop, the writer, compression, parsing, hashing) memory freed in one arena
is not reused by the others, and each message's buffers were faulted in afresh: 25,000 minor faults
and ~120 ms of system time per 37.5 MB message. With the cap: ~10,700 faults and ~87 ms, 260 -> 310
MB/s, peak RSS 189 MB. (Keeping 2-8 MiB at the top of each heap, M_TRIM_THRESHOLD, saved no more
faults once the arenas were capped and raised the peak to 197-199 MB.)

``release_free_memory()`` (glibc's ``malloc_trim``) hands free heap pages back after a big message is
stored: the store calls it after each commit of 8 MB or more. Measured over 18 messages of 37.5 MB:
peak RSS 184-186 MB instead of 189-194 MB, for ~6,000 more page faults (~7 ms) per message and no
measurable change in MB/s.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

_libc: ctypes.CDLL | None = None

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers
M_ARENA_MAX = -8
MMAP_THRESHOLD = 1024 * 1024


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold and cap its arenas; True when applied."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    arenas = max(2, os.cpu_count() or 1)
    ok = all(mallopt(param, value) == 1 for param, value in (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_ARENA_MAX, arenas)))
    if not ok:
        log.debug("mallopt (mmap threshold, arena max) refused")
    return ok


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        except OSError:
            return None
    return _libc


def release_free_memory() -> bool:
    """Give free heap pages back to the kernel (glibc ``malloc_trim(0)``); False where unavailable.

    Blocking for a few milliseconds: call it from a worker thread, never from the event loop."""
    libc = _load_libc()
    trim = getattr(libc, "malloc_trim", None) if libc is not None else None
    if trim is None:
        return False
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    trim(0)
    return True
