"""Self-tests of the whole-stack benchmark's parsing and aggregation (no stack, no wrk needed).

    .venv/bin/python -m pytest bench/stack/test_stack_bench.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import logscan  # noqa: E402
import profiles  # noqa: E402
import results  # noqa: E402
import wrkrun  # noqa: E402
from launch import cpu_delta  # noqa: E402

RAW = {"duration_us": 10_000_000, "requests": 50_000, "bytes": 150_000_000, "connect": 0, "read": 2, "write": 0,
       "status": 0, "timeout": 3, "lat_mean_us": 1200.0, "lat_stdev_us": 300.0, "lat_max_us": 90_000,
       "p50_us": 1100, "p90_us": 2000, "p99_us": 5500, "p999_us": 20_000, "classes": False,
       "c2": 0, "c3": 0, "c4": 0, "c5": 0}


def wrk_text(raw: dict) -> str:
    return "Running 10s test @ http://127.0.0.1:1/x\n  2 threads and 64 connections\n" \
           f"{wrkrun.MARKER}{json.dumps(raw)}\nRequests/sec:   5000.00\n"


def test_parse_output_finds_the_done_line_among_wrk_text() -> None:
    assert wrkrun.parse_output(wrk_text(RAW))["requests"] == 50_000


def test_parse_output_without_result_line_is_an_error() -> None:
    with pytest.raises(wrkrun.WrkError, match="no result line"):
        wrkrun.parse_output("Running 10s test\nunable to connect to 127.0.0.1:1 Connection refused\n")


def test_summarize_rates_latencies_and_errors() -> None:
    out = wrkrun.summarize(RAW)
    assert out["rps"] == 5000.0 and out["mb_per_s"] == 15.0
    assert (out["p50_ms"], out["p99_ms"], out["max_ms"]) == (1.1, 5.5, 90.0)
    assert out["socket_errors"] == {"connect": 0, "read": 2, "write": 0, "timeout": 3}
    assert out["socket_errors_total"] == 5
    assert out["c5xx"] == 0  # no non-2xx/3xx at all, so no 5xx


def test_summarize_unknown_5xx_when_non2xx_without_classes() -> None:
    assert wrkrun.summarize({**RAW, "status": 7})["c5xx"] is None
    classified = wrkrun.summarize({**RAW, "status": 7, "classes": True, "c4": 3, "c5": 4})
    assert (classified["c4xx"], classified["c5xx"]) == (3, 4)


def test_argv_is_the_documented_command(tmp_path: Path) -> None:
    spec = wrkrun.WrkRun(url="http://127.0.0.1:9/api/v1/messages", connections=256, duration_s=30)
    argv = spec.argv(tmp_path / "s.lua")
    assert argv[1:] == ["-t2", "-c256", "-d30s", "--timeout", "2s", "--latency", "-s", str(tmp_path / "s.lua"),
                        "http://127.0.0.1:9/api/v1/messages"]
    assert spec.argv(tmp_path / "s.lua")[0].endswith("wrk")
    assert wrkrun.WrkRun(url="u", connections=2, duration_s=1, nice=-5).argv(tmp_path / "s")[:3] == \
        ["nice", "-n", "-5"]


def test_lua_scripts_define_the_hooks(tmp_path: Path) -> None:
    plain = wrkrun.write_script(tmp_path, False).read_text()
    assert "function done(" in plain and "function response(" not in plain
    classes = wrkrun.write_script(tmp_path, True).read_text()
    assert "function response(" in classes and "function setup(" in classes


def test_scan_counts_nginx_statuses_upstream_errors_and_error_lines() -> None:
    lines = [
        'nginx | 127.0.0.1 "GET /preview/ab?size=256 HTTP/1.1" 200 2986 0.002 up=127.0.0.1:5/200/0.002 "-"',
        'nginx | 127.0.0.1 "GET /api/v1/messages HTTP/1.1" 499 0 0.300 up=127.0.0.1:6/-/- "-"',
        'nginx | 127.0.0.1 "GET /api/v1/messages HTTP/1.1" 502 150 0.000 up=127.0.0.1:6/502/0.000 "-"',
        "nginx | 2026/11/22 10:28:53 [error] 1#1: *5 connect() failed (111: Connection refused)",
        "nginx | 2026/11/22 10:28:53 [alert] 1#1: 4096 worker_connections are not enough",
        'previewer | 127.0.0.1 [22/Nov/2026:10:29:00 +0000] "GET /preview/ab?size=256 HTTP/1.1" 200 2986 "-" "-"',
        "mailcapture | something [error] in a subject line is not nginx's",
    ]
    out = logscan.scan(lines)
    assert out["nginx_access"] == {"2xx": 1, "4xx": 1, "5xx": 1}
    assert out["nginx_non2xx_statuses"] == {"499": 1, "502": 1}
    assert out["nginx_upstream_non2xx"] == {"-": 1, "502": 1}
    assert out["nginx_error_lines"] == {"error": 1, "alert": 1}
    assert out["previewer_access"] == {"2xx": 1}


def test_read_from_returns_only_complete_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"old\nnew 1\nnew 2\npart")
    lines, offset = logscan.read_from(log, 4)
    assert lines == ["new 1", "new 2"] and offset == len(b"old\nnew 1\nnew 2\n")
    assert logscan.read_from(tmp_path / "missing", 0) == ([], 0)


def test_cpu_delta_sums_per_program_and_counts_new_processes_in_full() -> None:
    before = {1: ("nginx", 1.0), 2: ("nginx", 2.0), 3: ("previewer", 5.0)}
    after = {1: ("nginx", 1.5), 2: ("nginx", 3.0), 3: ("previewer", 7.0), 4: ("previewer", 0.25)}
    assert cpu_delta(before, after) == {"nginx": 1.5, "previewer": 2.25}


def _run(path: str, rps: float, rep: int, **extra: object) -> dict:
    return {"endpoint": "api", "path": path, "connections": 64, "repeat": rep, "rps": rps, "p50_ms": 10.0 * rep + 1,
            "p99_ms": 50.0, "max_ms": 80.0, "non_2xx_3xx": 0, "c5xx": 0, "seconds": 30.0,
            "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": rep},
            "log": {"nginx_access": {"2xx": 10}, "nginx_non2xx_statuses": {"499": 64}, "nginx_error_lines": {}},
            "cpu_s": {"nginx": 1.0}, "other_cpu_s": 2.0, "tcpext_host_delta": {"ListenOverflows": 0}, **extra}


def test_table_rows_take_medians_sum_errors_and_compare_nginx_with_direct() -> None:
    profile = {"runs": [_run("nginx", 400, 0), _run("direct", 500, 0), _run("direct", 520, 1),
                        _run("nginx", 420, 1), _run("nginx", 900, 2), _run("direct", 540, 2)]}
    nginx, direct = results.table_rows(profile)
    assert (nginx["rps"], direct["rps"]) == (420, 520)
    assert nginx["socket_errors"]["timeout"] == 3
    assert nginx["nginx_non2xx_statuses"] == {"499": 192}
    assert nginx["nginx_overhead"].startswith("-19% req/s")
    md = results.markdown({"settings": {"repeat": 3},
                           "profiles": [{"name": "p", "description": "d", **profile}]})
    assert "| api | nginx | 64 | 420 (400-900) |" in md


def test_a_failed_run_is_shown_not_hidden() -> None:
    profile = {"runs": [{"endpoint": "api", "path": "nginx", "connections": 64, "error": "wrk exited 1"},
                        _run("direct", 500, 0)]}
    nginx, _ = results.table_rows(profile)
    assert nginx["error"] == "wrk exited 1"


def test_spawn_count_counts_supervisor_spawns_not_program_output(tmp_path: Path) -> None:
    log = tmp_path / "stack.log"
    log.write_bytes(b"2026-11-22 10:28:52,585 INFO spawned: 'mailcapture' with pid 1\n"
                    b"2026-11-22 10:28:52,586 INFO spawned: 'previewer' with pid 2\n"
                    b"previewer | 2026-11-22 INFO spawned: a worker\n"
                    b"2026-11-22 10:29:52,612 INFO spawned: 'previewer' with pid 3\n")
    assert logscan.spawn_count(log) == 3
    assert logscan.spawn_count(tmp_path / "missing") == -1


def test_profiles_edit_a_copy_of_the_template_and_never_the_shipped_one(tmp_path: Path) -> None:
    shipped = (profiles.ROOT / "nginx" / "nginx.conf.template").read_text()
    env = profiles.profile_env("keepalive256", tmp_path)
    copy = Path(env["STACK_NGINX_TEMPLATE"]).read_text()
    assert copy.count("keepalive 256;") == 2 and "keepalive 64;" not in copy
    assert "mailcapture buffer=64k flush=1s;" in copy
    assert (profiles.ROOT / "nginx" / "nginx.conf.template").read_text() == shipped
    assert profiles.profile_env("default", tmp_path / "d") == {}
    assert profiles.profile_env("quiet", tmp_path / "q")["PREVIEWER_LOG_LEVEL"] == "WARNING"


def test_backlog_experiment_sets_aiohttp_default_backlog(tmp_path: Path) -> None:
    env = profiles.profile_env("backlog1024", tmp_path)
    code = ("import unittest.mock as m\n"
            "from aiohttp import web_runner\n"
            "seen = {}\n"
            "def base_init(self, *a, backlog=None, **k): seen['backlog'] = backlog\n"
            "with m.patch.object(web_runner.BaseSite, '__init__', base_init):\n"
            "    web_runner.TCPSite(m.MagicMock(), '127.0.0.1', 0)\n"
            "print(seen['backlog'])\n")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": env["PYTHONPATH"]},
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.stdout.strip() == str(profiles.EXPERIMENT_BACKLOG), out.stderr


def test_merge_pools_runs_of_the_same_profile_across_files() -> None:
    import merge

    a = {"started": "a", "settings": {"repeat": 1},
         "profiles": [{"name": "p", "description": "d", "runs": [_run("nginx", 400, 0), _run("direct", 500, 0)]}]}
    b = {"started": "b", "settings": {"repeat": 2},
         "profiles": [{"name": "p", "description": "d", "runs": [_run("nginx", 420, 0), _run("direct", 520, 0),
                                                                  _run("nginx", 440, 1), _run("direct", 540, 1)]}]}
    merged = merge.merge([a, b])
    assert merged["settings"]["repeat"] == 3 and len(merged["profiles"]) == 1
    nginx, direct = merged["profiles"][0]["summary"]
    assert (nginx["n"], nginx["rps"], direct["rps"]) == (3, 420, 520)


def test_template_edit_is_skipped_when_present_and_refused_when_unknown(tmp_path: Path) -> None:
    from launch import StackError

    shipped = (profiles.ROOT / "nginx" / "nginx.conf.template").read_text()
    present = "worker_connections 4096;"
    assert present in shipped
    same = profiles.edited_template(tmp_path / "a", (("no such line", present),)).read_text()
    assert same == shipped
    with pytest.raises(StackError, match="neither"):
        profiles.edited_template(tmp_path / "b", (("no such line", "nor this one"),))
