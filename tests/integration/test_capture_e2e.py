"""The capture service as a user meets it: a real process, real SMTP, real HTTP, a real SQLite file."""

from __future__ import annotations

import hashlib
import smtplib
import socket
import sqlite3
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support import CaptureProcess

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005"
    "0001ff5ccc0a4b0000000049454e44ae426082"
)


def make_mail(subject: str = "Hello", *, tags: str = "", attachment: bytes | None = None,
              to: str = "Bob <bob@example.com>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{hashlib.sha1(subject.encode()).hexdigest()}@example.com>"
    if tags:
        msg["X-Tags"] = tags
    msg.set_content("Plain body of " + subject)
    msg.add_alternative(f"<p>HTML body of <b>{subject}</b></p>", subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="image", subtype="png", filename="dot.png")
    return msg


def send(capture: CaptureProcess, msg: EmailMessage | bytes, rcpts: list[str] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", capture.smtp_port, timeout=30) as client:
        if isinstance(msg, bytes):
            client.sendmail("alice@example.com", rcpts or ["bob@example.com"], msg)
        else:
            client.send_message(msg)


def test_send_list_and_read_with_mailpit_fields(capture: CaptureProcess) -> None:
    msg = make_mail("First mail", attachment=PNG_1PX, tags="Alpha, beta")
    send(capture, msg)
    listing = capture.json("GET", "/api/v1/messages")
    assert listing["total"] == 1 and listing["unread"] == 1 and listing["count"] == 1
    assert listing["messages_count"] == 1 and listing["start"] == 0
    summary = listing["messages"][0]
    for key in ("ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created",
                "Username", "Tags", "Size", "Attachments", "Snippet"):
        assert key in summary, key
    assert summary["From"] == {"Name": "Alice", "Address": "alice@example.com"}
    assert summary["To"] == [{"Name": "Bob", "Address": "bob@example.com"}]
    assert summary["Subject"] == "First mail"
    assert summary["Attachments"] == 1
    assert sorted(summary["Tags"]) == ["Alpha", "beta"]
    assert summary["Snippet"].startswith("Plain body of First mail")

    full = capture.json("GET", f"/api/v1/message/{summary['ID']}")
    assert full["Text"].strip() == "Plain body of First mail"
    assert "<b>First mail</b>" in full["HTML"]
    (att,) = full["Attachments"]
    assert att["FileName"] == "dot.png" and att["ContentType"] == "image/png"
    assert att["Size"] == len(PNG_1PX)
    assert att["Checksums"]["SHA256"] == hashlib.sha256(PNG_1PX).hexdigest()
    assert att["PreviewURL"] == f"/preview/{hashlib.sha256(PNG_1PX).hexdigest()}"

    status, headers, body = capture.request("GET", f"/api/v1/message/{summary['ID']}/part/{att['PartID']}")
    assert status == 200 and body == PNG_1PX and headers["Content-Type"].startswith("image/png")
    # opening a message marks it read
    assert capture.json("GET", "/api/v1/messages")["unread"] == 0


def test_raw_is_exactly_the_bytes_received(capture: CaptureProcess) -> None:
    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: exact\r\n\r\n"
           b".leading dot\r\n..two dots\r\n\xff\xfe 8-bit bytes\r\nlast line\r\n")
    send(capture, raw)
    (summary,) = capture.json("GET", "/api/v1/messages")["messages"]
    status, headers, body = capture.request("GET", f"/api/v1/message/{summary['ID']}/raw")
    assert status == 200 and body == raw
    status, headers, body = capture.request("GET", f"/api/v1/message/{summary['ID']}/raw?dl=1")
    assert f'{summary["ID"]}.eml' in headers["Content-Disposition"] and body == raw


def test_concurrent_deliveries_with_the_same_new_tags(capture: CaptureProcess) -> None:
    """32 clients at once, same new tags: all get 250 and every message is stored once."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(32)

    def deliver(n: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", capture.smtp_port, timeout=60) as client:
                barrier.wait()
                client.send_message(make_mail(f"tagged {n}", tags="Release, CI-run, new tag"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    listing = capture.json("GET", "/api/v1/messages?limit=100")
    assert listing["total"] == 32
    assert sorted(m["Subject"] for m in listing["messages"]) == sorted(f"tagged {n}" for n in range(32))
    tags = capture.json("GET", "/api/v1/tags")
    assert sorted(t.lower() for t in tags) == ["ci-run", "new tag", "release"]


def test_plus_addressing_and_case_insensitive_tags(capture: CaptureProcess) -> None:
    send(capture, make_mail("one", to="bob+Invoices@example.com", tags="invoices"))
    send(capture, make_mail("two", tags="INVOICES"))
    assert [t.lower() for t in capture.json("GET", "/api/v1/tags")] == ["invoices"]
    found = capture.json("GET", "/api/v1/search?query=tag:invoices")
    assert found["messages_count"] == 2


def test_message_answered_250_survives_kill_9(capture_factory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    capture = capture_factory(data)
    for n in range(5):
        send(capture, make_mail(f"durable {n}"))
    capture.kill9()
    again = capture_factory(data)
    listing = again.json("GET", "/api/v1/messages")
    assert listing["total"] == 5


def test_kill_9_during_a_large_transfer_leaves_nothing_half_stored(capture_factory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    capture = capture_factory(data)
    send(capture, make_mail("before"))
    big = make_mail("big", attachment=b"\x89PNG" + bytes(8 * 1024 * 1024)).as_bytes()
    with socket.create_connection(("127.0.0.1", capture.smtp_port), timeout=30) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        for line in (b"EHLO test\r\n", b"MAIL FROM:<a@example.com>\r\n", b"RCPT TO:<b@example.com>\r\n",
                     b"DATA\r\n"):
            sock.sendall(line)
            while True:
                reply = reader.readline()
                if reply[3:4] != b"-":
                    break
        sock.sendall(big[: len(big) // 2])  # half the message, then the server dies
        capture.kill9()
    again = capture_factory(data)
    listing = again.json("GET", "/api/v1/messages")
    assert [m["Subject"] for m in listing["messages"]] == ["before"]
    db = next(data.glob("*.db"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_message_over_the_size_limit_gets_552_and_nothing_stored(capture_factory) -> None:
    capture = capture_factory(MAILCAPTURE_MAX_MESSAGE_SIZE="64k")
    with smtplib.SMTP("127.0.0.1", capture.smtp_port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPException) as info:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: big\r\n\r\n" + b"x" * 100_000)
    assert "552" in str(info.value)
    assert capture.json("GET", "/api/v1/messages")["total"] == 0


def test_retention_keeps_the_newest(capture_factory) -> None:
    capture = capture_factory(MAILCAPTURE_MAX_MESSAGES="3", MAILCAPTURE_PRUNE_INTERVAL="1")
    for n in range(6):
        send(capture, make_mail(f"keep {n}"))
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listing = capture.json("GET", "/api/v1/messages")
        if listing["total"] == 3:
            break
        time.sleep(0.2)
    assert [m["Subject"] for m in listing["messages"]] == ["keep 5", "keep 4", "keep 3"]


def test_tenants_share_one_database_file(capture_factory, tmp_path: Path) -> None:
    data = tmp_path / "shared"
    a = capture_factory(data, MAILCAPTURE_TENANT_ID="team-a!")
    send(a, make_mail("for a"))
    a.stop()
    b = capture_factory(data, MAILCAPTURE_TENANT_ID="team_b")
    send(b, make_mail("for b"))
    assert [m["Subject"] for m in b.json("GET", "/api/v1/messages")["messages"]] == ["for b"]
    b.stop()
    assert len(list(data.glob("*.db"))) == 1


def test_bad_setting_fails_fast(capture_factory) -> None:
    with pytest.raises(RuntimeError, match="MAILCAPTURE_COMPRESSION"):
        capture_factory(MAILCAPTURE_COMPRESSION="9")


def test_sigterm_with_an_open_event_socket_stops_promptly(capture: CaptureProcess) -> None:
    """An open inbox tab must not hold up a clean stop."""
    import asyncio
    import time

    import aiohttp

    async def hold_socket_then_stop() -> float:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{capture.http_port}/api/events") as ws:
                started = time.monotonic()
                assert capture.proc is not None
                capture.proc.terminate()
                msg = await asyncio.wait_for(ws.receive(), 10)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
                await asyncio.get_running_loop().run_in_executor(None, capture.proc.wait, 10)
                return time.monotonic() - started

    elapsed = asyncio.run(hold_socket_then_stop())
    assert capture.proc is not None and capture.proc.returncode == 0
    assert elapsed < 5, elapsed
