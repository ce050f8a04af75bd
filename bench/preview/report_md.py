"""Markdown tables from the benchmark's JSON (``bench/results/preview.json``)."""

from __future__ import annotations

from typing import Any

OVERHEAD_MAX = 1.30
SCALING_MIN = 1.6
CACHED_P50_MAX_MS = 5.0
ISOLATION_MAX = 1.5
KIND_LABEL = {"jpeg12": "JPEG 12 MP", "png": "PNG 2560x1440", "pdf": "PDF 20 p. (page 1)",
              "video": "MP4 5 s 640x360", "jpeg64": "JPEG 64 MP"}


def _v(x: Any, unit: str = "") -> str:
    return "–" if x is None else f"{x:g}{unit}" if isinstance(x, (int, float)) else str(x)


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else "**met**" if ok else "**MISSED**"


def latency_table(cmp: dict[str, Any]) -> list[str]:
    lines = ["| input | bare library p50 | capture blob GET p50 | previewer w1 p50 / p99 | previewer w2 p50 / p99 "
             "| w1 in-worker render / task (mean) | thumbor p50 / p99 | vipsthumbnail batch / marginal / 1 process |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, k in cmp.items():
        lat = k["latency"]

        def pair(name: str) -> str:
            if name not in lat:
                return "–"
            return f"{_v(lat[name]['p50_ms_median_of_rounds'])} / {_v(lat[name]['p99_ms_pooled'])}"

        vips = lat.get("vips")
        vips_s = (f"{_v(vips['batch_per_item_ms'])} / {_v(vips['marginal_per_item_ms'])} / "
                  f"{_v(vips['single_process_ms'])}") if vips else "–"
        w1 = lat["previewer_w1"]
        lines.append(f"| {KIND_LABEL.get(kind, kind)} | {_v(lat['bare']['p50_ms_median_of_rounds'])} | "
                     f"{_v(lat['capture_blob']['p50_ms_median_of_rounds'])} | "
                     f"{pair('previewer_w1')} | {pair('previewer_w2')} | "
                     f"{_v(w1.get('worker_render_mean_ms'))} / {_v(w1.get('worker_task_mean_ms'))} | "
                     f"{pair('thumbor')} | {vips_s} |")
    return lines


def throughput_table(cmp: dict[str, Any]) -> list[str]:
    lines = ["| input | w1 c2 | w1 c4 | w2 c2 | w2 c4 | thumbor c2 | thumbor c4 | bare 1 proc / 2 procs | "
             "scaling w2/w1 (c4) | bare scaling 2/1 procs (machine ceiling) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for kind, k in cmp.items():
        t = k["throughput"]

        def cell(key: str) -> str:
            return _v(t[key]["per_second_median"]) if key in t else "–"

        lines.append(f"| {KIND_LABEL.get(kind, kind)} | {cell('previewer_w1_c2')} | {cell('previewer_w1_c4')} | "
                     f"{cell('previewer_w2_c2')} | {cell('previewer_w2_c4')} | {cell('thumbor_c2')} | "
                     f"{cell('thumbor_c4')} | {cell('bare_1proc')} / {cell('bare_2proc')} | "
                     f"{_v(k['ratios'].get('scaling_w2_over_w1_c4'))} | "
                     f"{_v(k['ratios'].get('bare_scaling_2proc_over_1proc'))} |")
    return lines


def targets_table(out: dict[str, Any]) -> list[str]:
    cmp = out["comparison"]
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    # Over HTTP, "w1 minus a separate blob GET" estimates the service without its download; with direct
    # reads there is no download to subtract.
    direct = any(counts.get("direct") for counts in (out.get("inputs_by_how") or {}).values())
    for kind, k in cmp.items():
        r = k["ratios"]
        ov = r.get("overhead_w1_vs_bare_p50")
        minus = "" if direct else \
            f"; w1 minus a separate blob GET's p50: x{_v(r.get('overhead_w1_minus_blob_fetch_vs_bare_p50'))}"
        lines.append(f"| service adds <= 30 % to the bare call, p50, {KIND_LABEL[kind]} (w1) | x{_v(ov)} "
                     f"(w2: x{_v(r.get('overhead_w2_vs_bare_p50'))}{minus}) | "
                     f"{_verdict(None if ov is None else ov <= OVERHEAD_MAX)} |")
    for kind, k in cmp.items():
        r = k["ratios"]
        if "w1_p50_vs_thumbor_p50" in r:
            lat, thr = r["w1_p50_vs_thumbor_p50"], r.get("w1_c4_throughput_vs_thumbor")
            ok = lat <= 1.0 and (thr is None or thr >= 1.0)
            lines.append(f"| at least as fast as thumbor, 1 worker, {KIND_LABEL[kind]} | p50 x{_v(lat)} of "
                         f"thumbor's; throughput (4 clients) x{_v(thr)} of thumbor's | {_verdict(ok)} |")
    for kind, k in cmp.items():
        s = k["ratios"].get("scaling_w2_over_w1_c4")
        if s is not None:
            lines.append(f"| >= 1.6x throughput with 2 workers, {KIND_LABEL[kind]} (4 clients) | x{_v(s)} "
                         f"(2 clients: x{_v(k['ratios'].get('scaling_w2_over_w1_c2'))}; the bare call in 2 processes "
                         f"vs 1 in the same rounds: x{_v(k['ratios'].get('bare_scaling_2proc_over_1proc'))}) | "
                         f"{_verdict(s >= SCALING_MIN)} |")
    for kind, c in out.get("cached", {}).items():
        lines.append(f"| cached hit < 5 ms p50, {KIND_LABEL[kind]} | {_v(c['p50_ms'])} ms (p99 {_v(c['p99_ms'])}) "
                     f"| {_verdict(c['p50_ms'] < CACHED_P50_MAX_MS)} |")
    for name, iso in out.get("isolation", {}).items():
        ratio = iso["p99_ratio_median"]
        lines.append(f"| image p99 with 50 PDFs + 20 videos queued <= 1.5x idle ({name}) | x{_v(ratio)} "
                     f"({_v(iso['idle_p99_ms_median'])} -> {_v(iso['loaded_p99_ms_median'])} ms) | "
                     f"{_verdict(ratio <= ISOLATION_MAX)} |")
    for alloc, m in out.get("memory", {}).items():
        lines.append(f"| memory reaches a plateau, {alloc} | peak {_v(m['peak_mib'])} MiB, end {_v(m['end_mib'])} MiB,"
                     f" last-quarter peak {_v(m['growth_q4_over_q2'])} above second quarter | {_verdict(m['plateau'])} |")
    return lines


def isolation_table(out: dict[str, Any]) -> list[str]:
    lines = ["| workers | idle p50 / p99 | loaded p50 / p99 | p99 ratio (per round) | image task mean idle -> "
             "loaded | blob GET p50 idle -> loaded | doc queue depth+busy (min-max) | video (min-max) | "
             "backlog renders |", "|---|---|---|---|---|---|---|---|---|"]
    for name, iso in out.get("isolation", {}).items():
        rs = iso["rounds"]
        lines.append(
            f"| {name} | {iso['idle_p50_ms_median']} / {iso['idle_p99_ms_median']} | {iso['loaded_p50_ms_median']} / "
            f"{iso['loaded_p99_ms_median']} | {', '.join(str(r['p99_ratio']) for r in rs)} | "
            f"{_v(iso['idle_image_task_mean_ms_median'])} -> {_v(iso['loaded_image_task_mean_ms_median'])} | "
            f"{_v(iso['idle_blob_p50_ms_median'])} -> {_v(iso['loaded_blob_p50_ms_median'])} | "
            f"{min(r['document_depth_min'] for r in rs)}-{max(r['document_depth_max'] for r in rs)} | "
            f"{min(r['video_depth_min'] for r in rs)}-{max(r['video_depth_max'] for r in rs)} | "
            f"{sum(r['backlog_completed'] for r in rs)} |")
    return lines


def memory_table(out: dict[str, Any]) -> list[str]:
    lines = ["| allocator | previews (renders) | seconds | start | median while running | peak | end (after 3 s "
             "idle) | peak Q2 -> Q4 | plateau | end by process: service / image / document / video workers |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for alloc, m in out.get("memory", {}).items():
        roles = m.get("by_role_end_mib", {})
        lines.append(f"| {alloc} | {m['previews']} ({m['renders']}) | {m['seconds']} | {m['start_mib']} | "
                     f"{m['median_running_mib']} | {m['peak_mib']} | {m['end_mib']} | {m['peak_q2_mib']} -> "
                     f"{m['peak_q4_mib']} | {'yes' if m['plateau'] else 'no'} | "
                     f"{' / '.join(_v(roles.get(r)) for r in ('service', 'image', 'document', 'video'))} |")
    return lines


def cpu_table(out: dict[str, Any]) -> list[str]:
    lines = ["| input | contender | thumbnails/s | wall ms/item | CPU ms per thumbnail: total = by process |",
             "|---|---|---|---|---|"]
    for kind, by_name in out.get("cpu", {}).items():
        for name, c in by_name.items():
            parts = ", ".join(f"{k} {v:g}" for k, v in sorted(c["cpu_ms_per_item"].items(), key=lambda kv: -kv[1]))
            lines.append(f"| {KIND_LABEL.get(kind, kind)} | {name} | {c['per_second']} | {c['wall_ms_per_item']} | "
                         f"{c['cpu_ms_per_item_total']} = {parts} |")
    return lines


def _inputs_line(out: dict[str, Any]) -> str:
    """How the previewers got their inputs (direct reads of the capture store, or HTTP) and any extra env."""
    how = out.get("inputs_by_how") or {}
    text = "; ".join(f"{name}: " + ", ".join(f"{k} {int(v)}" for k, v in sorted(counts.items()))
                     for name, counts in how.items()) or "not recorded"
    extra = out.get("previewer_env") or {}
    env = f" Previewer environment: {extra}." if extra else ""
    return (f"Inputs handed to workers, by path (`previewer_inputs_total`; direct = read by the worker from the "
            f"capture store's file, of which kept decoded = parts the store keeps decoded, read as they are; "
            f"streamed/memory/file = over HTTP): {text}.{env}")


def render(out: dict[str, Any]) -> str:
    env = out["environment"]
    load = env.get("loadavg_1min_during_run", {})
    parts = [f"Run: `{out.get('command', '')}` ({'quick' if out['quick'] else 'full'}, {out['rounds']} round(s), "
             f"{out['seconds']} s, niceness {out.get('niceness', 0)}); {env['cpus']} CPUs; 1-min load average "
             f"during the run min {load.get('min', 0):.1f} / median {load.get('median', 0):.1f} / max "
             f"{load.get('max', 0):.1f}; versions {env['versions']}.", "",
             _inputs_line(out), "",
             "### Targets", "", *targets_table(out), "",
             "### Latency, ms (1 client, sequential; p50 = median over rounds, p99 pooled)", "",
             *latency_table(out["comparison"]), "",
             "### Throughput, thumbnails/s (median of all batches: interleaved repetitions x rounds; cN = N "
             "concurrent clients on distinct inputs)", "",
             *throughput_table(out["comparison"]), "",
             "### CPU time per thumbnail (one batch, 4 clients; 2 for the 64 MP JPEG; its thumbnails/s is a single "
             "batch, noisier than the table above)", "", *cpu_table(out), "",
             "### Queue isolation (JPEG 12 MP, sequential)", "", *isolation_table(out), ""]
    if out.get("memory"):
        parts += ["### Memory (RSS of the previewer + all its workers, MiB)", "", *memory_table(out), ""]
    return "\n".join(parts)
