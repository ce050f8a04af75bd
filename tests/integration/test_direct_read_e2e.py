"""Direct reads, real processes: a previewer on the capture service's machine reads attachments from
its SQLite file and answers exactly what it answers over HTTP; limits, deletions and tenants hold."""

from __future__ import annotations

import json
import time
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_previews_e2e import send
from tests.previewer import samples
from tests.previewer.conftest import PreviewerProcess
from tests.support import CaptureProcess

pytestmark = pytest.mark.slow

FILES = {
    "photo.jpg": ("image", "jpeg", lambda: samples.jpeg(1600, 1200)),
    "alpha.png": ("image", "png", lambda: samples.png_alpha(800, 600)),
    "report.pdf": ("application", "pdf", lambda: samples.pdf(3)),
    "clip.mp4": ("video", "mp4", lambda: samples.video("mp4")),
}


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def inputs_by_how(previewer: PreviewerProcess) -> dict[str, float]:
    _, _, body = get(previewer.url + "/metrics")
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r'^previewer_inputs_total\{how="(\w+)"\} (\S+)$', body.decode(), re.M)}


def preview_ids(capture: CaptureProcess) -> dict[str, str]:
    (summary,) = capture.json("GET", "/api/v1/messages")["messages"]
    detail = capture.json("GET", f"/api/v1/message/{summary['ID']}")
    return {p["FileName"]: p["PreviewID"] for p in detail["Attachments"] + detail["Inline"]}


def start(capture: CaptureProcess, workdir: Path, **env: str) -> PreviewerProcess:
    return PreviewerProcess(capture.base, workdir, PREVIEWER_CACHE_DIR="", THUMBNAIL_TASK_WORKERS="1",
                            **env).start()


def test_direct_reads_answer_byte_for_byte_what_http_answers(capture_factory, tmp_path: Path) -> None:
    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL="")
    direct = start(capture, tmp_path / "direct")
    http = start(capture, tmp_path / "http", PREVIEWER_DIRECT_READ="off")
    try:
        send(capture, {name: (main, sub, make()) for name, (main, sub, make) in FILES.items()})
        ids = preview_ids(capture)
        for name, blob_id in ids.items():
            for size in (128, 256):
                a = get(f"{direct.url}/preview/{blob_id}?size={size}")
                b = get(f"{http.url}/preview/{blob_id}?size={size}")
                assert a[0] == b[0] == 200, (name, a[2][:200], b[2][:200])
                assert a[1]["Content-Type"] == b[1]["Content-Type"] and a[1]["ETag"] == b[1]["ETag"]
                assert a[2] == b[2], name
        assert inputs_by_how(direct) == {"direct": 2 * len(FILES)}, direct.log[-2000:]
        assert "direct" not in inputs_by_how(http)
        health = json.loads(get(direct.url + "/healthz")[2])["direct_read"]
        assert health["enabled"] and health["store"]["db"].endswith(".db") and health["store"]["prefix"] == ""
        assert json.loads(get(http.url + "/healthz")[2])["direct_read"] == {"enabled": False, "store": None}
        assert "reading attachments directly from" in direct.log
    finally:
        direct.stop()
        http.stop()


def test_limits_deletions_and_unknown_ids_on_the_direct_path(capture_factory, tmp_path: Path) -> None:
    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL="")
    previewer = start(capture, tmp_path / "p", THUMBNAIL_IMAGE_SIZE_LIMIT="0.05")
    try:
        big = samples.jpeg(1600, 1200)
        assert len(big) > 60_000
        send(capture, {"big.jpg": ("image", "jpeg", big), "small.png": ("image", "png", samples.png_alpha(64, 64))})
        ids = preview_ids(capture)
        status, _, body = get(f"{previewer.url}/preview/{ids['big.jpg']}")
        assert status == 413 and "THUMBNAIL_IMAGE_SIZE_LIMIT" in json.loads(body)["Error"]
        assert get(f"{previewer.url}/preview/{ids['small.png']}")[0] == 200
        assert get(f"{previewer.url}/preview/{'ab' * 32}")[0] == 404  # not in the store, nor over HTTP

        (summary,) = capture.json("GET", "/api/v1/messages")["messages"]
        capture.request("DELETE", "/api/v1/messages", {"IDs": [summary["ID"]]})
        status, _, body = get(f"{previewer.url}/preview/{ids['small.png']}?size=128")
        assert status == 404, body
        assert inputs_by_how(previewer) == {"direct": 1}
    finally:
        previewer.stop()


def test_a_tenant_s_store_is_read_directly(capture_factory, tmp_path: Path) -> None:
    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL="", MAILCAPTURE_TENANT_ID="team-a")
    previewer = start(capture, tmp_path / "p")
    try:
        send(capture, {"photo.jpg": ("image", "jpeg", samples.jpeg(800, 600))})
        (blob_id,) = preview_ids(capture).values()
        status, headers, _ = get(f"{previewer.url}/preview/{blob_id}")
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        assert inputs_by_how(previewer) == {"direct": 1}
    finally:
        previewer.stop()


def metric(previewer: PreviewerProcess, name: str) -> dict[str, float]:
    _, _, body = get(previewer.url + "/metrics")
    return {m.group(1): float(m.group(2))
            for m in re.finditer(rf"^{name}\{{(.*)\}} (\S+)$", body.decode(), re.M)}


def test_a_declared_type_is_only_a_guess_the_worker_checks(capture_factory, tmp_path: Path) -> None:
    """The service queues by the declared type; the worker sniffs the bytes: another format of its queue
    is rendered as what it is, another queue's format is moved there, bytes of no known format are 422."""
    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL="")
    previewer = start(capture, tmp_path / "p")
    try:
        pdf = samples.pdf(1)
        png = samples.png_alpha(300, 200)
        send(capture, {"report.jpg": ("image", "jpeg", pdf), "pic.jpg": ("image", "jpeg", png),
                       "broken.pdf": ("application", "pdf", b"this is not a PDF at all" * 100),
                       "clip.mp4": ("video", "mp4", samples.jpeg(400, 300))})
        ids = preview_ids(capture)
        status, headers, body = get(f"{previewer.url}/preview/{ids['report.jpg']}")
        assert status == 200 and headers["Content-Type"] == "image/jpeg", body[:300]
        status, headers, body = get(f"{previewer.url}/preview/{ids['pic.jpg']}")
        assert status == 200 and headers["Content-Type"] == "image/png", body[:300]  # the alpha is kept
        status, _, body = get(f"{previewer.url}/preview/{ids['broken.pdf']}")
        assert status == 422 and "declared application/pdf" in json.loads(body)["Error"]
        status, headers, body = get(f"{previewer.url}/preview/{ids['clip.mp4']}")
        assert status == 200 and headers["Content-Type"] == "image/jpeg", body[:300]
        moved = metric(previewer, "previewer_requeued_total")
        assert moved == {'from_queue="image",to_queue="document"': 1.0,
                         'from_queue="video",to_queue="image"': 1.0}, moved
    finally:
        previewer.stop()


def test_a_recreated_store_is_found_again(capture_factory, tmp_path: Path) -> None:
    """The capture service restarts on a new database file at the same path: the previewer notices at the
    next lookup (the file's identity changed) and reads the new file; nothing is read from the old one."""
    from tests.support import free_port

    port = free_port()
    data = tmp_path / "data"
    first = capture_factory(data, MAILCAPTURE_HTTP_ADDR=f"127.0.0.1:{port}")
    previewer = start(first, tmp_path / "p")
    try:
        send(first, {"a.png": ("image", "png", samples.png_alpha(100, 80))})
        (old_id,) = preview_ids(first).values()
        assert get(f"{previewer.url}/preview/{old_id}")[0] == 200
        assert inputs_by_how(previewer) == {"direct": 1}
        first.stop()
        for path in data.iterdir():
            path.unlink()
        second = capture_factory(data, MAILCAPTURE_HTTP_ADDR=f"127.0.0.1:{port}")
        send(second, {"b.png": ("image", "png", samples.png_alpha(90, 70))})
        (new_id,) = preview_ids(second).values()
        assert get(f"{previewer.url}/preview/{new_id}")[0] == 200
        assert get(f"{previewer.url}/preview/{new_id}?size=128")[0] == 200
        assert inputs_by_how(previewer) == {"direct": 3}, previewer.log[-1500:]
        assert "was replaced; finding it again" in previewer.log
    finally:
        previewer.stop()


def test_a_part_deleted_while_its_job_waits_is_found_again_elsewhere(capture_factory, tmp_path: Path) -> None:
    """The job's message is deleted while the job waits in the queue, and the same attachment arrives in
    another mail: the worker finds the old message gone, and the previewer answers from the new copy."""
    import threading

    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL="")
    previewer = start(capture, tmp_path / "p")
    try:
        png = samples.png_alpha(120, 90)
        send(capture, {"sleep.bin": ("application", "octet-stream", b"PREVIEWER-SLEEP image 1.5"),
                       "a.png": ("image", "png", png)}, subject="first")
        ids = preview_ids(capture)
        blocker = threading.Thread(target=get, args=(f"{previewer.url}/preview/{ids['sleep.bin']}",))
        blocker.start()  # the one image worker sleeps 1.5 s
        time.sleep(0.3)
        answers: list[int] = []
        waiting = threading.Thread(target=lambda: answers.append(get(f"{previewer.url}/preview/{ids['a.png']}")[0]))
        waiting.start()  # located in the first mail, queued behind the sleeper
        time.sleep(0.3)
        (first,) = capture.json("GET", "/api/v1/messages")["messages"]
        capture.request("DELETE", "/api/v1/messages", {"IDs": [first["ID"]]})
        send(capture, {"again.png": ("image", "png", png)}, subject="second")
        waiting.join(30)
        blocker.join(30)
        assert answers == [200], previewer.log[-1500:]
        assert inputs_by_how(previewer).get("memory", 0) + inputs_by_how(previewer).get("streamed", 0) == 1
    finally:
        previewer.stop()


def test_the_first_previews_arriving_together_all_read_directly(capture_factory, tmp_path: Path) -> None:
    """Prewarm sends a new mail's previews at once, before the previewer has found the store: every one
    of them waits for that and reads directly (none falls back to HTTP)."""
    import threading

    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL="")
    previewer = start(capture, tmp_path / "p")
    try:
        send(capture, {f"p{i}.png": ("image", "png", samples.png_alpha(60 + i, 40)) for i in range(4)})
        ids = list(preview_ids(capture).values())
        codes: list[int] = []
        threads = [threading.Thread(target=lambda i=i: codes.append(get(f"{previewer.url}/preview/{i}")[0]))
                   for i in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert codes == [200] * 4
        assert inputs_by_how(previewer) == {"direct": 4}
    finally:
        previewer.stop()


def decoded_inputs(previewer: PreviewerProcess) -> float:
    _, _, body = get(previewer.url + "/metrics")
    found = re.search(r"^previewer_decoded_inputs_total (\S+)$", body.decode(), re.M)
    return float(found.group(1)) if found else 0.0


def wait_kept_decoded(capture: CaptureProcess, count: int, timeout: float = 20.0) -> None:
    """Until ``count`` parts of the capture store are kept decoded (its compaction runs after the 250)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    (db,) = capture.data_dir.glob("*.db")
    while True:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            done = conn.execute("SELECT count(*) FROM parts WHERE stored = 1").fetchone()[0]
        if done >= count or time.monotonic() > deadline:
            assert done == count
            return
        time.sleep(0.1)


def test_parts_kept_decoded_are_read_as_they_are_and_preview_the_same(capture_factory, tmp_path: Path) -> None:
    capture = capture_factory(MAILCAPTURE_PREVIEWER_URL="")
    direct = start(capture, tmp_path / "direct")
    http = start(capture, tmp_path / "http", PREVIEWER_DIRECT_READ="off")
    try:
        files = {name: (main, sub, make()) for name, (main, sub, make) in FILES.items()}
        send(capture, files)
        wait_kept_decoded(capture, sum(len(data) >= 64 * 1024 for _, _, data in files.values()))
        ids = preview_ids(capture)
        for name, blob_id in ids.items():
            a = get(f"{direct.url}/preview/{blob_id}?size=128")
            b = get(f"{http.url}/preview/{blob_id}?size=128")
            assert a[0] == b[0] == 200 and a[2] == b[2], name
        assert decoded_inputs(direct) == sum(len(data) >= 64 * 1024 for _, _, data in files.values()) > 0
        (summary,) = capture.json("GET", "/api/v1/messages")["messages"]
        detail = capture.json("GET", f"/api/v1/message/{summary['ID']}")
        for part in detail["Attachments"] + detail["Inline"]:
            status, _, body = get(f"{capture.base}/api/v1/message/{summary['ID']}/part/{part['PartID']}")
            assert status == 200 and body == files[part["FileName"]][2], part["FileName"]
        status, _, raw = get(f"{capture.base}/api/v1/message/{summary['ID']}/raw")
        assert status == 200
        import email
        import email.policy
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        found = {p.get_filename(): p.get_content() for p in parsed.iter_attachments()}
        assert found == {name: data for name, (_, _, data) in files.items()}
    finally:
        direct.stop()
        http.stop()
