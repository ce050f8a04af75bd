"""Stack configurations the benchmark can run: as shipped, and variants that test one proposed change each.

Variants never edit the shipped files: nginx changes go into a copy of the template (STACK_NGINX_TEMPLATE), the
listen-backlog experiment into a ``sitecustomize.py`` on PYTHONPATH, both inside the run's work directory.
"""

from __future__ import annotations

from pathlib import Path

from launch import ROOT, StackError

PROFILES: dict[str, tuple[str, dict[str, str]]] = {
    "default": ("as shipped by the tree under test (before d36e584: nginx's and the previewer's access logs "
                "through supervisor's stdout, one line per request each)", {}),
    "quiet": ("nginx access log to a file (STACK_ACCESS_LOG), previewer at PREVIEWER_LOG_LEVEL=WARNING",
              {"PREVIEWER_LOG_LEVEL": "WARNING"}),
    "buffered": ("as shipped, but the nginx template's access_log gets `buffer=64k flush=1s` "
                 "(a rendered copy via STACK_NGINX_TEMPLATE)", {}),
    "keepalive256": ("like `buffered`, and both upstreams keep `keepalive 256` idle connections per worker "
                     "instead of 64 (template copy)", {}),
    "backlog1024": ("like `keepalive256`, and both aiohttp services listen with backlog=1024 instead of aiohttp's "
                    "default 128 (experiment: a sitecustomize.py on PYTHONPATH changes TCPSite's default)",
                    {"PREVIEWER_LOG_LEVEL": "INFO"}),
    "quiet-1worker": ("like `quiet`, with `worker_processes 1` instead of `auto` (2 here): one nginx worker "
                      "competing with the previewer and wrk for the 2 cores", {"PREVIEWER_LOG_LEVEL": "WARNING"}),
}
EXPERIMENT_BACKLOG = 1024
SITECUSTOMIZE = f'''"""Benchmark experiment only: aiohttp's TCPSite listens with backlog={EXPERIMENT_BACKLOG}."""
import functools

try:
    from aiohttp import web_runner
except ImportError:
    web_runner = None
if web_runner is not None:
    _original = web_runner.TCPSite.__init__

    @functools.wraps(_original)
    def _init(self, *args, **kwargs):
        kwargs.setdefault("backlog", {EXPERIMENT_BACKLOG})
        _original(self, *args, **kwargs)

    web_runner.TCPSite.__init__ = _init
'''
ACCESS_LOG_LINE = "access_log ${ACCESS_LOG} mailcapture;"
BUFFERED_ACCESS_LOG_LINE = "access_log ${ACCESS_LOG} mailcapture buffer=64k flush=1s;"
KEEPALIVE_LINE = "keepalive 64;"
TEMPLATE_EDITS: dict[str, tuple[tuple[str, str], ...]] = {
    "buffered": ((ACCESS_LOG_LINE, BUFFERED_ACCESS_LOG_LINE),),
    "keepalive256": ((ACCESS_LOG_LINE, BUFFERED_ACCESS_LOG_LINE), (KEEPALIVE_LINE, "keepalive 256;")),
    "backlog1024": ((ACCESS_LOG_LINE, BUFFERED_ACCESS_LOG_LINE), (KEEPALIVE_LINE, "keepalive 256;")),
    "quiet-1worker": (("worker_processes auto;", "worker_processes 1;"),),
}


def edited_template(workdir: Path, edits: tuple[tuple[str, str], ...]) -> Path:
    """A copy of nginx/nginx.conf.template with ``edits`` applied (the shipped one is left alone)."""
    text = (ROOT / "nginx" / "nginx.conf.template").read_text()
    for old, new in edits:
        if new in text:
            continue  # the shipped template already has it
        if old not in text:
            raise StackError(f"the template has neither {old!r} nor {new!r}")
        text = text.replace(old, new)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "nginx.conf.template"
    path.write_text(text)
    return path


def profile_env(name: str, workdir: Path) -> dict[str, str]:
    """The extra environment of profile ``name``; writes its template copy or sitecustomize into ``workdir``."""
    env = dict(PROFILES[name][1])
    if name in ("quiet", "quiet-1worker"):
        env["STACK_ACCESS_LOG"] = str(workdir / "access.log")
    if name == "backlog1024":
        site = workdir / "site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        env["PYTHONPATH"] = str(site)
    if name in TEMPLATE_EDITS:
        env["STACK_NGINX_TEMPLATE"] = str(edited_template(workdir, TEMPLATE_EDITS[name]))
    return env
