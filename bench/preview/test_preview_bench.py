"""Self-tests of the previewer benchmark's harness (fast): ``.venv/bin/python -m pytest bench/preview -q``."""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_inputs as gen  # noqa: E402
import loadgen as lg  # noqa: E402
import memcurve  # noqa: E402
import refs  # noqa: E402
import stack  # noqa: E402

MIB = 1024 * 1024


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert lg.percentile(values, 50) == 50.0
    assert lg.percentile(values, 99) == 99.0
    assert lg.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert lg.percentile([5.0], 99) == 5.0
    with pytest.raises(ValueError):
        lg.percentile([], 50)


def test_inputs_are_deterministic_and_distinct() -> None:
    a, b = gen.jpeg(320, 240, 5), gen.jpeg(320, 240, 5)
    assert a == b and a != gen.jpeg(320, 240, 6)
    with Image.open(io.BytesIO(a)) as im:
        assert im.size == (320, 240) and im.format == "JPEG"
    base = gen.pdf(3, 1)
    assert base == gen.pdf(3, 1)
    copies = {gen.pdf_copy(base, f"copy {i}") for i in range(3)}
    assert len(copies) == 3
    clip = gen.mp4(160, 96, 0.5, 1)
    assert clip == gen.mp4(160, 96, 0.5, 1) and clip[4:8] == b"ftyp"


def test_bare_references_fit_the_box(tmp_path: Path) -> None:
    data = gen.jpeg(1200, 900, 2)
    for thumb in (refs.bare_jpeg(data), refs.bare_png(gen.png(800, 400, 3)), refs.bare_pdf(gen.pdf(2, 4))):
        with Image.open(io.BytesIO(thumb)) as im:
            assert max(im.size) == refs.THUMB
    clip = tmp_path / "c.mp4"
    clip.write_bytes(gen.mp4(320, 180, 1.0, 5))
    with Image.open(io.BytesIO(refs.bare_video(str(clip)))) as im:
        assert im.size == (256, 144)


def test_mails_are_grouped_under_the_limit() -> None:
    small = [gen.Input("pdf", f"{i}.pdf", "application/pdf", bytes(10 * MIB)) for i in range(9)]
    groups = stack._mails(small)
    assert [len(g) for g in groups] == [4, 4, 1]
    assert sum(len(g) for g in groups) == 9
    big = [gen.Input("jpeg64", "x.jpg", "image/jpeg", bytes(50 * MIB))]
    assert stack._mails(big) == [big]


def test_input_sha256_is_the_preview_id() -> None:
    item = gen.Input("pdf", "a.pdf", "application/pdf", b"%PDF-1.4 x")
    assert item.sha256 == hashlib.sha256(b"%PDF-1.4 x").hexdigest()


def test_mixed_plan_is_deterministic_and_respects_variants() -> None:
    plan = memcurve.mixed_plan({"jpeg12": 4, "pdf": 4, "video": 2}, 500)
    assert plan == memcurve.mixed_plan({"jpeg12": 4, "pdf": 4, "video": 2}, 500)
    assert {k for k, _ in plan} == {"jpeg12", "pdf", "video"}
    assert all(v < (2 if k == "video" else 4) for k, v in plan)


def _samples(values: list[int]) -> list[memcurve.Sample]:
    return [memcurve.Sample(i * 0.1, i, v * MIB, 1, {"service": v * MIB}) for i, v in enumerate(values)]


def test_plateau_detection() -> None:
    flat = memcurve.analyse(_samples([100] * 10 + [200] * 90), 100)
    assert flat["plateau"] and flat["peak_mib"] == 200.0
    growing = memcurve.analyse(_samples(list(range(100, 300, 2))), 100)
    assert not growing["plateau"]


def test_metric_sums_between_scrapes() -> None:
    before = {"image": (1.0, 10.0)}
    after = {"image": (2.5, 20.0)}
    assert lg.mean_between(before, after, "image") == pytest.approx(0.15)
    assert lg.mean_between(before, before, "image") is None


def test_curve_csv_round_trip_and_chart(tmp_path: Path) -> None:
    curves = {"glibc": _samples([100, 120, 130]), "jemalloc": _samples([90, 95, 96])}
    path = tmp_path / "m.csv"
    memcurve.write_csv(path, curves)
    back = memcurve.read_csv(path)
    assert [s.rss for s in back["glibc"]] == [s.rss for s in curves["glibc"]]
    assert back["jemalloc"][2].roles["service"] == 96 * MIB
    chart = tmp_path / "m.png"
    memcurve.write_chart(chart, back, 3)
    with Image.open(chart) as im:
        assert im.size == memcurve.CHART_SIZE
