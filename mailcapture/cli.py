"""``mailcapture`` console script: ``mailcapture serve`` runs SMTP and HTTP."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from mailcapture import __version__
from mailcapture.config import ConfigError, add_arguments
from mailcapture.settings import SETTINGS, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailcapture", description="Capture mail over SMTP; browse it over HTTP.")
    parser.add_argument("--version", action="version", version=f"mailcapture {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the SMTP server and the HTTP API/inbox")
    add_arguments(serve, SETTINGS)
    sub.add_parser("settings", help="print the settings table (Markdown) for docs/configuration.md")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "settings":
        from mailcapture.docs import configuration_markdown

        sys.stdout.write(configuration_markdown())
        return 0
    flags = {s.name: getattr(args, s.name) for s in SETTINGS}
    try:
        settings = load_settings(flags=flags)
    except ConfigError as exc:
        print(f"mailcapture: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from mailcapture.memory import tune_malloc
    from mailcapture.service import serve

    tune_malloc()

    try:
        asyncio.run(serve(settings))
    except OSError as exc:  # e.g. address in use
        print(f"mailcapture: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
