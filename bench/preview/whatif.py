"""Before/after: the current previewer against ``previewer/`` at an earlier commit, same run, same inputs.

``.venv/bin/python bench/preview/whatif.py --baseline COMMIT [--previews N] [--nice -15]``

Exports ``previewer/`` at COMMIT (``git archive``) into a temp dir and runs it through ``PYTHONPATH``;
the current tree runs as installed. Both get the queue-isolation test (2 workers per queue) and the memory
curve (glibc, mixed previews) with the same capture service and inputs. Nothing in the repository is
modified. Written for the two fixes of 8e99af7 (MuPDF store emptied after each document; document and
video workers at nice 10): ``--baseline 8e99af7~1``. Writes ``bench/results/preview-whatif.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_inputs as gen  # noqa: E402
import isolation  # noqa: E402
import loadgen as lg  # noqa: E402
import memcurve  # noqa: E402
import stack  # noqa: E402

ISO_N = 30
ISO_ROUNDS = 2


def export(commit: str, dest: Path) -> Path:
    """``<dest>/previewer`` as it was at ``commit``; returns ``dest`` (for PYTHONPATH)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(stack.REPO), "archive", "--format=tar", commit, "previewer"],
                             capture_output=True, check=False, timeout=60)
    if archive.returncode != 0:
        raise SystemExit(f"whatif: git archive {commit} failed: {archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True, timeout=60)
    return dest


async def measure(capture: stack.Capture, workdir: Path, inputs: dict[str, list[gen.Input]],
                  backlog: list[gen.Input], previews: int, env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prev = stack.start_previewer(workdir / "iso", capture.http_url, 2, extra_env=env)
    try:
        image = inputs["jpeg12"][0]
        async with lg.session(4) as http:
            await lg.fetch(http, lg.preview_url(prev.url, image.sha256), "miss")
        iso = await isolation.measure(
            prev.url, lg.preview_url(prev.url, image.sha256), f"{capture.http_url}/internal/blob/{image.sha256}",
            len(image.data), [lg.preview_url(prev.url, b.sha256) for b in backlog], ISO_N, ISO_ROUNDS,
            len([b for b in backlog if b.kind == "pdf"]), len([b for b in backlog if b.kind == "video"]))
        out["isolation_w2"] = {k: v for k, v in iso.items() if k != "rounds"}
    finally:
        prev.service.stop()
    prev = stack.start_previewer(workdir / "mem", capture.http_url, 2, jemalloc=False, extra_env=env)
    try:
        urls = {k: [lg.preview_url(prev.url, i.sha256) for i in v] for k, v in inputs.items()}
        run = await memcurve.drive(prev.url, urls, previews, 4, prev.service.rss_by_role)
    finally:
        prev.service.stop()
    out["memory_glibc"] = {**memcurve.analyse(run.pop("samples"), previews), "renders": run["renders"]}
    return out


async def main_async(workdir: Path, previews: int, baseline: str) -> dict[str, Any]:
    scale = gen.Scale(jpeg64=1)
    inputs = gen.main_inputs(scale)
    backlog = gen.isolation_inputs(scale)
    capture = stack.start_capture(workdir / "capture")
    try:
        everything = [i for v in inputs.values() for i in v] + backlog
        stack.deliver(capture, everything, "previewer what-if")
        stack.preview_ids(capture, everything)
        stack.wait_decoded(workdir / "capture")
        root = export(baseline, workdir / "baseline")
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
        return {"baseline": await measure(capture, workdir / "a", inputs, backlog, previews, env),
                "current": await measure(capture, workdir / "b", inputs, backlog, previews, {}),
                "baseline_commit": baseline}
    finally:
        capture.service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git commit of the previewer to compare against")
    parser.add_argument("--previews", type=int, default=2000, help="mixed previews in the memory run")
    parser.add_argument("--nice", type=int, default=0, help="added to the niceness of the whole run")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    workdir = Path(tempfile.mkdtemp(prefix="preview-whatif-"))
    try:
        out = asyncio.run(main_async(workdir, args.previews, args.baseline))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results = stack.REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "preview-whatif.json").write_text(json.dumps(out, indent=1))
    for name in ("baseline", "current"):
        iso, mem = out[name]["isolation_w2"], out[name]["memory_glibc"]
        print(f"{name:9}  isolation (2 workers) p99 x{iso['p99_ratio_median']} ({iso['idle_p99_ms_median']} -> "
              f"{iso['loaded_p99_ms_median']} ms)  memory (glibc) peak {mem['peak_mib']} MiB, Q2->Q4 "
              f"{mem['peak_q2_mib']}->{mem['peak_q4_mib']}, plateau {mem['plateau']}, document workers at end "
              f"{mem['by_role_end_mib']['document']} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
