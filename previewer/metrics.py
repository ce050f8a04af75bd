"""The previewer's Prometheus metrics, in a registry of its own (one per running service)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Thumbnail work spans ~5 ms (small PNG) to the task timeout (hung decode).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.queue_depth = Gauge("previewer_queue_depth", "Tasks waiting in a queue", ["queue"], registry=r)
        self.queue_capacity = Gauge("previewer_queue_capacity", "Size of a queue", ["queue"], registry=r)
        self.workers_busy = Gauge("previewer_workers_busy", "Workers running a task", ["queue"], registry=r)
        self.task_duration = Histogram("previewer_task_duration_seconds",
                                       "Time a worker spent on one task, by queue and outcome",
                                       ["queue", "outcome"], buckets=DURATION_BUCKETS, registry=r)
        self.render_seconds = Histogram("previewer_render_seconds",
                                        "Decode + thumbnail + encode time inside a worker, by input format",
                                        ["format"], buckets=DURATION_BUCKETS, registry=r)
        self.inputs = Counter("previewer_inputs",
                              "Inputs handed to a worker, by how: streamed (passed on while still downloading), "
                              "memory (read whole first), file (spooled to a temp file first) or direct (the "
                              "worker read it from the capture store's file itself)",
                              ["how"], registry=r)
        self.decoded_inputs = Counter("previewer_decoded_inputs",
                                      "Direct reads of parts the capture store keeps decoded: the worker read "
                                      "their bytes as they are (no base64, no zstd)", registry=r)
        self.requeued = Counter("previewer_requeued",
                                "Direct-read jobs a worker sent to another queue: the declared type was wrong",
                                ["from_queue", "to_queue"], registry=r)
        self.tasks = Counter("previewer_tasks", "Tasks run by workers, by queue and outcome",
                             ["queue", "outcome"], registry=r)
        self.requests = Counter("previewer_requests", "Preview requests answered, by HTTP status",
                                ["status"], registry=r)
        self.flights_joined = Counter("previewer_singleflight_joined",
                                      "Requests that shared an already running task", registry=r)
        self.results_waiting = Gauge("previewer_results_waiting",
                                     "Finished results nobody has collected yet", registry=r)
        self.results_expired = Counter("previewer_results_expired",
                                       "Finished results dropped after THUMBNAIL_RESULT_EXPIRE_TIME", registry=r)
        self.in_flight = Gauge("previewer_in_flight", "Thumbnails being fetched or rendered", registry=r)
        self.cache_hits = Counter("previewer_cache_hits", "Thumbnails served from the disk cache", registry=r)
        self.cache_misses = Counter("previewer_cache_misses", "Thumbnails not in the disk cache", registry=r)
        self.cache_evictions = Counter("previewer_cache_evictions", "Files evicted from the disk cache",
                                       registry=r)
        self.cache_bytes = Gauge("previewer_cache_bytes", "Total size of the disk cache", registry=r)
        self.worker_restarts = Counter("previewer_worker_restarts",
                                       "Worker processes replaced, by queue and reason (timeout, memory, crash)",
                                       ["queue", "reason"], registry=r)
        self.task_timeouts = Counter("previewer_task_timeouts", "Tasks killed after THUMBNAIL_TASK_TIMEOUT",
                                     ["queue"], registry=r)
        self.busy = Counter("previewer_busy_rejections", "Requests answered 503 because a queue was full",
                            ["queue"], registry=r)
        self.prewarm = Counter("previewer_prewarm_items", "Prewarm items, by what happened to them",
                               ["result"], registry=r)
        self.rss = Gauge("previewer_rss_bytes", "Resident memory, service process and all workers",
                         ["process"], registry=r)
        self.jemalloc_active = Gauge("previewer_jemalloc_active", "1 when jemalloc is the allocator",
                                     ["process"], registry=r)
        self.jemalloc_bytes = Gauge("previewer_jemalloc_active_bytes",
                                    "jemalloc stats.active of the service process", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
