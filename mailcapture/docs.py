"""Generates the settings tables of ``docs/configuration.md`` from the definitions in code."""

from __future__ import annotations

from pathlib import Path

from mailcapture.config import markdown_table
from mailcapture.settings import SETTINGS

BEGIN = "<!-- BEGIN GENERATED: {name} -->"
END = "<!-- END GENERATED: {name} -->"


def tables() -> dict[str, str]:
    from mailcapture.stack.settings import SETTINGS as STACK_SETTINGS

    out = {"mailcapture": markdown_table(SETTINGS), "stack": markdown_table(STACK_SETTINGS)}
    try:
        from previewer.settings import SETTINGS as PREVIEWER_SETTINGS
    except ImportError:  # previewer not installed alongside
        return out
    out["previewer"] = markdown_table(PREVIEWER_SETTINGS)
    return out


def routes_table() -> str:
    from mailcapture.web.app import ROUTES

    lines = ["| Method | Path | What |", "|---|---|---|"]
    for route in ROUTES:
        lines.append(f"| {route.method} | `{route.path}` | {route.summary} |")
    return "\n".join(lines) + "\n"


def render(text: str) -> str:
    """Replace every generated block in ``text`` with the current table."""
    generated = dict(tables())
    generated["routes"] = routes_table()
    for name, table in generated.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = f"{head}{begin}\n{table}{end}{tail}"
    return text


def configuration_markdown() -> str:
    return "\n".join(f"## {name}\n\n{table}" for name, table in tables().items())


def update(path: Path) -> bool:
    """Rewrite the generated blocks of ``path``; True when something changed."""
    old = path.read_text()
    new = render(old)
    if new != old:
        path.write_text(new)
    return new != old


if __name__ == "__main__":
    import sys

    targets = [Path(a) for a in sys.argv[1:]] or [Path("docs/configuration.md"), Path("docs/api.md")]
    for target in targets:
        print("updated" if update(target) else "up to date", target)
