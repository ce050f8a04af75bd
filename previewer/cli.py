"""``previewer serve``: load settings (flags, then environment), re-exec under jemalloc, run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from mailcapture.config import ConfigError, add_arguments, markdown_table
from previewer import jemalloc
from previewer.settings import SETTINGS, load_settings

REEXEC_GUARD = "PREVIEWER_JEMALLOC_REEXEC"


def jemalloc_reexec(choice: str, argv: list[str]) -> None:
    """Replace this process with itself under LD_PRELOAD=libjemalloc (once; never when 'off')."""
    if choice == "off" or os.environ.get(REEXEC_GUARD):
        return
    path = jemalloc.find_library() if choice == "auto" else choice
    if path is None or path in os.environ.get("LD_PRELOAD", "").split(":"):
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = ":".join(p for p in (path, env.get("LD_PRELOAD", "")) if p)
    env[REEXEC_GUARD] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "previewer", *argv], env)


def drop_jemalloc_preload(argv: list[str]) -> None:
    """PREVIEWER_JEMALLOC=off: re-exec once without jemalloc in LD_PRELOAD (so workers run on glibc too)."""
    preload = os.environ.get("LD_PRELOAD", "")
    if "jemalloc" not in preload or os.environ.get(REEXEC_GUARD):
        return
    env = dict(os.environ)
    kept = [p for p in preload.split(":") if p and "jemalloc" not in p]
    if kept:
        env["LD_PRELOAD"] = ":".join(kept)
    else:
        env.pop("LD_PRELOAD")
    env[REEXEC_GUARD] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "previewer", *argv], env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="previewer", description="Thumbnail service for mailcapture.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the previewer")
    add_arguments(serve, SETTINGS)
    sub.add_parser("settings", help="print the settings table (Markdown)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "settings":
        sys.stdout.write(markdown_table(SETTINGS))
        return 0
    flags = {s.name: getattr(args, s.name) for s in SETTINGS}
    try:
        settings = load_settings(flags=flags)
    except ConfigError as exc:
        print(f"previewer: {exc}", file=sys.stderr)
        return 2
    if settings.jemalloc == "off":
        drop_jemalloc_preload(argv)
    else:
        jemalloc_reexec(settings.jemalloc, argv)
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s previewer %(levelname)s %(name)s: %(message)s")
    from previewer.web import serve

    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:  # workers could not start
        logging.getLogger("previewer").error("%s", exc)
        return 1
