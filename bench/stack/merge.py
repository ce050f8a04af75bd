"""Merge several ``run.py`` result files into one table (medians over all their repeats).

    .venv/bin/python bench/stack/merge.py bench/results/stack-A.json bench/results/stack-B.json [-o merged.json]

Runs of the same profile name are pooled; each run keeps its own numbers, so medians, min-max and error sums
cover every repeat of every file. Prints the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import results  # noqa: E402


def merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    profiles: dict[str, dict[str, Any]] = {}
    repeats = 0
    for doc in docs:
        repeats += int(doc["settings"].get("repeat", 1))
        for profile in doc["profiles"]:
            into = profiles.setdefault(profile["name"], {"name": profile["name"],
                                                         "description": profile["description"], "runs": []})
            into["runs"] += profile["runs"]
    merged = {"settings": {"repeat": repeats}, "sources": [d.get("started") for d in docs],
              "profiles": list(profiles.values())}
    for profile in merged["profiles"]:
        profile["summary"] = results.table_rows(profile)
    return merged


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("-o", "--output", type=Path, help="write the merged JSON here")
    args = p.parse_args(argv)
    try:
        docs = [json.loads(f.read_text()) for f in args.files]
    except (OSError, ValueError) as exc:
        print(f"merge: {exc}", file=sys.stderr)
        return 2
    merged = merge(docs)
    if args.output:
        args.output.write_text(json.dumps(merged, indent=1))
    print(results.markdown(merged))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
