"""Every setting of the previewer, defined once (``docs/configuration.md`` lists them all)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from mailcapture.config import (
    ConfigError,
    Setting,
    Settings,
    load,
    log_level_setting,
    parse_addr,
    parse_bool,
    parse_duration,
    parse_float,
    parse_int,
    parse_size,
    parse_str,
    parse_url,
)

MIB = 1024 * 1024
# Thumbnail edge lengths (pixels) a client may ask for; anything else is a 400.
SIZES: tuple[int, ...] = (128, 256, 512, 1024)
DEFAULT_SIZE = 256
MAX_AUTO_WORKERS = 4


def auto_workers() -> int:
    """One worker per core per queue, at most MAX_AUTO_WORKERS."""
    return max(1, min(MAX_AUTO_WORKERS, os.cpu_count() or 1))


def parse_workers(raw: str) -> int:
    if raw.strip().lower() == "auto":
        return auto_workers()
    return parse_int(1, 256)(raw)


def parse_mb(minimum: float = 0.0):  # type: ignore[no-untyped-def]
    """Megabytes (may be fractional) -> bytes; 0 means "no limit" where the help says so."""
    to_float = parse_float(minimum)

    def parse(raw: str) -> int:
        return int(to_float(raw) * MIB)

    return parse


def parse_positive_duration(raw: str) -> float:
    value = parse_duration(raw)
    if value <= 0:
        raise ValueError(f"must be more than 0 seconds, got {raw!r}")
    return value


def parse_sizes(raw: str) -> tuple[int, ...]:
    out: list[int] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        value = parse_int()(item)
        if value not in SIZES:
            raise ValueError(f"size {value} is not one of {', '.join(map(str, SIZES))}")
        out.append(value)
    return tuple(out)


def parse_jemalloc(raw: str) -> str:
    value = raw.strip()
    if value in ("auto", "off") or value.startswith("/"):
        return value
    raise ValueError(f"expected 'auto', 'off' or an absolute path to libjemalloc.so, got {raw!r}")


def parse_direct_read(raw: str) -> str:
    value = raw.strip().lower()
    if value in ("auto", "off"):
        return value
    raise ValueError(f"expected 'auto' or 'off', got {raw!r}")


SETTINGS: tuple[Setting, ...] = (
    Setting("http_addr", "PREVIEWER_HTTP_ADDR", "127.0.0.1:8088",
            "Address (HOST:PORT) the previewer listens on. Use an IP, not 'localhost' (IPv4/IPv6 mix-ups).",
            parse_addr),
    Setting("capture_url", "PREVIEWER_CAPTURE_URL", "http://127.0.0.1:8025",
            "Base URL of the capture service; blobs are read from {URL}/internal/blob/{id}.", parse_url),
    Setting("direct_read", "PREVIEWER_DIRECT_READ", "auto",
            "'auto': when the capture service's SQLite file is on this machine (it says where at "
            "/internal/store), workers read attachments straight from it; 'off': always over HTTP.",
            parse_direct_read),
    Setting("cache_dir", "PREVIEWER_CACHE_DIR", "./data/previews",
            "Disk cache of finished thumbnails, <dir>/<renderer tag>/<size>/<id[:2]>/<id>.<ext> (empty = no cache); "
            "thumbnails of another renderer version are deleted at start-up.",
            parse_str),
    Setting("cache_max_bytes", "PREVIEWER_CACHE_MAX_BYTES", "1G",
            "Largest total size of the disk cache (bytes, or 512M, 2G); least recently used files go first.",
            parse_size),
    Setting("task_workers", "THUMBNAIL_TASK_WORKERS", "auto",
            "Worker processes per queue (image, document, video); 'auto' = CPU cores, at most 4.",
            parse_workers),
    Setting("task_timeout", "THUMBNAIL_TASK_TIMEOUT", "30",
            "Longest a worker may spend on one thumbnail (seconds); then it is killed, replaced and the "
            "client gets 504.", parse_positive_duration),
    Setting("result_expire", "THUMBNAIL_RESULT_EXPIRE_TIME", "120",
            "How long a finished result nobody collected (client gone, prewarm) is kept in memory (seconds).",
            parse_positive_duration),
    Setting("image_size_limit", "THUMBNAIL_IMAGE_SIZE_LIMIT", "30",
            "Largest image, PDF, SVG or PSD file accepted (MB); larger gets 413.", parse_mb(0.001)),
    Setting("original_size_limit", "THUMBNAIL_IMAGE_ORIGINAL_SIZE_LIMIT", "256",
            "Largest decoded picture, width*height*bands, checked from the header before decoding (MB); "
            "larger gets 413.", parse_mb(0.001)),
    Setting("video_size_limit", "PREVIEWER_VIDEO_SIZE_LIMIT", "1024",
            "Largest video file accepted (MB); larger gets 413.", parse_mb(0.001)),
    Setting("memory_limit", "THUMBNAIL_MEMORY_LIMIT", "4096",
            "RSS of the service plus its workers (MB) past which the watchdog logs why and exits non-zero "
            "so the supervisor restarts it (0 = off).", parse_mb(0)),
    Setting("worker_memory_limit", "PREVIEWER_WORKER_MEMORY_LIMIT", "512",
            "RSS of one worker (MB) past which it is replaced between tasks.", parse_mb(1)),
    Setting("queue_size", "PREVIEWER_QUEUE_SIZE", "64",
            "Tasks waiting per queue; when a queue is full the client gets 503 with Retry-After.",
            parse_int(1, 100_000)),
    Setting("max_pending", "PREVIEWER_MAX_PENDING", "1024",
            "Most thumbnails in flight or waiting to be collected at once (bounds every in-memory map).",
            parse_int(1, 1_000_000)),
    Setting("spool_threshold", "PREVIEWER_SPOOL_THRESHOLD", "1M",
            "Inputs read whole before rendering (documents; images that must queue) go to a private temp file "
            "instead of memory above this size; an image its worker can start on at once is "
            "passed on while it downloads.",
            parse_size),
    Setting("fetch_timeout", "PREVIEWER_FETCH_TIMEOUT", "30",
            "Timeout for reading one blob from the capture service (seconds).", parse_positive_duration),
    Setting("prewarm_sizes", "PREVIEWER_PREWARM_SIZES", "256",
            "Comma-separated sizes rendered ahead of time by POST /prewarm (empty = prewarm off).",
            parse_sizes),
    Setting("retry_after", "PREVIEWER_RETRY_AFTER", "2",
            "Seconds a client is told to wait (Retry-After) when the previewer is busy.", parse_int(1, 3600)),
    Setting("jemalloc", "PREVIEWER_JEMALLOC", "auto",
            "Preload jemalloc: 'auto' (libjemalloc.so.2 when installed), 'off', or a library path.",
            parse_jemalloc),
    Setting("watchdog_interval", "PREVIEWER_WATCHDOG_INTERVAL", "1",
            "How often the memory watchdog measures RSS (seconds).", parse_positive_duration),
    Setting("test_hooks", "PREVIEWER_TEST_HOOKS", "false",
            "Tests only: accept synthetic 'sleep'/'bloat' inputs that make a worker hang or grow.",
            parse_bool),
    log_level_setting("PREVIEWER_LOG_LEVEL"),
)


def load_settings(env: Mapping[str, str] | None = None,
                  flags: Mapping[str, str | None] | None = None) -> Settings:
    """Load and validate every setting; raises ``ConfigError`` with a clear message."""
    settings = load(SETTINGS, env, flags)
    if settings.jemalloc.startswith("/") and not os.path.exists(settings.jemalloc):
        raise ConfigError(f"PREVIEWER_JEMALLOC = {settings.jemalloc!r}: no such file")
    return settings
