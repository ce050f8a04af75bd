"""A tiny settings framework: every setting is defined once (name, env var, type, default, help).

Both services (``mailcapture`` and ``previewer``) declare their settings with :class:`Setting`
and load them with :func:`load`, which reads CLI flags first, then the environment, then the
default, validates every value and raises :class:`ConfigError` with a clear message on the first
bad one. ``docs/configuration.md`` is checked against these definitions by a test.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A setting has a value the service cannot start with."""


# ---------------------------------------------------------------- parsers


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (1/0, true/false, yes/no), got {raw!r}")


def parse_int(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}, got {value}")
        return value

    return parse


def parse_float(minimum: float | None = None) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def parse_addr(raw: str) -> tuple[str, int]:
    """``host:port`` (IPv6 as ``[::1]:port``) -> (host, port)."""
    text = raw.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {raw!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"port must be a number in {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range in {raw!r}")
    return host, port


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(raw: str) -> float:
    """Seconds, or a number with a unit: ``90``, ``30s``, ``15m``, ``12h``, ``7d``. 0 = off."""
    text = raw.strip().lower()
    if not text:
        return 0.0
    unit = 1
    if text[-1] in _DURATION_UNITS:
        unit = _DURATION_UNITS[text[-1]]
        text = text[:-1]
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a duration like 90, 30s, 15m, 12h or 7d, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"duration must not be negative, got {raw!r}")
    return value * unit


def parse_size(raw: str) -> int:
    """Bytes, or with a unit: ``1048576``, ``512k``, ``50M``, ``1G`` (binary units)."""
    text = raw.strip().upper().removesuffix("B").removesuffix("I")
    mult = 1
    if text and text[-1] in "KMG":
        mult = {"K": 1024, "M": 1024**2, "G": 1024**3}[text[-1]]
        text = text[:-1]
    try:
        value = int(float(text) * mult)
    except ValueError:
        raise ValueError(f"expected a size like 1048576, 512k, 50M or 1G, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"size must be positive, got {raw!r}")
    return value


def parse_str(raw: str) -> str:
    return raw


def parse_url(raw: str) -> str:
    text = raw.strip().rstrip("/")
    if text and not (text.startswith("http://") or text.startswith("https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {raw!r}")
    return text


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Setting:
    """One setting: ``name`` is the attribute, ``env`` the environment variable, ``default`` is
    the raw text default (parsed like user input, so the docs show exactly what a user would type)."""

    name: str
    env: str
    default: str
    help: str
    parse: Callable[[str], Any] = parse_str
    secret: bool = False
    choices: Sequence[str] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, raw: str) -> Any:
        if self.choices is not None and raw not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, got {raw!r}")
        return self.parse(raw)


@dataclass
class Settings:
    """Loaded values, as attributes. ``sources`` tells where each came from (flag/env/default)."""

    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        values = dict(self.values)
        for key, value in changes.items():
            if key not in values:
                raise KeyError(key)
            values[key] = value
        return Settings(values, dict(self.sources))


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def log_level_setting(env: str) -> Setting:
    """The log-level setting every service has."""
    return Setting("log_level", env, "INFO", "Log level: DEBUG, INFO, WARNING or ERROR.", parse_str,
                   choices=LOG_LEVELS)


def add_arguments(parser: argparse.ArgumentParser, settings: Iterable[Setting]) -> None:
    for s in settings:
        parser.add_argument(
            s.flag,
            dest=s.name,
            default=None,
            metavar=s.env,
            help=f"{s.help} (env {s.env}, default {s.default!r})",
        )


def load(
    settings: Sequence[Setting],
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, str | None] | None = None,
) -> Settings:
    """Resolve every setting from ``flags`` (CLI), then ``env``, then its default; validate all."""
    env = os.environ if env is None else env
    flags = flags or {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in settings:
        flag_value = flags.get(s.name)
        if flag_value is not None:
            raw, source = flag_value, f"flag {s.flag}"
        elif s.env in env:
            raw, source = env[s.env], f"environment variable {s.env}"
        else:
            raw, source = s.default, "default"
        try:
            values[s.name] = s.convert(raw)
        except ValueError as exc:
            shown = "***" if s.secret else repr(raw)
            raise ConfigError(f"invalid {s.env} = {shown} (from {source}): {exc}") from None
        sources[s.name] = source
    return Settings(values, sources)


def markdown_table(settings: Iterable[Setting]) -> str:
    """The table ``docs/configuration.md`` embeds (and a test compares with)."""
    lines = ["| Environment variable | CLI flag | Default | Description |", "|---|---|---|---|"]
    for s in settings:
        default = f"`{s.default}`" if s.default else "(empty)"
        lines.append(f"| `{s.env}` | `{s.flag}` | {default} | {s.help} |")
    return "\n".join(lines) + "\n"
