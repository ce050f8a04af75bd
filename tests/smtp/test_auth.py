"""AUTH PLAIN and LOGIN: off, any, a credentials file, and AUTH required before MAIL."""

from __future__ import annotations

import base64
import smtplib
from pathlib import Path

import pytest

from mailcapture.smtp import SMTPConfig, start_smtp
from tests.smtp.helpers import HOST, Sink, connect, in_thread, running, sendmail
from tests.smtp.rawclient import RawSMTPClient, expect

MESSAGE = b"Subject: auth\r\n\r\nhi\r\n"
MECHANISMS = ["PLAIN", "LOGIN"]


def _login_and_send(port: int, user: str, password: str, mechanism: str) -> None:
    with connect(port) as client:
        client.ehlo()
        assert set(client.esmtp_features["auth"].split()) == set(MECHANISMS)
        client.user, client.password = user, password
        code, _ = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        assert code == 235
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)


@pytest.fixture
def credentials(tmp_path: Path) -> str:
    path = tmp_path / "users"
    path.write_text("# test users\nalice:s3cret:with:colons\n\nbob:hunter2\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_any_accepts_any_credentials_without_tls(sink: Sink, mechanism: str) -> None:
    async with running(sink, auth="any") as server:
        await in_thread(_login_and_send, server.port, "whoever", "whatever", mechanism)
    [envelope] = sink.received
    assert envelope.username == "whoever" and envelope.tls is False


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_file_accepts_listed_users(sink: Sink, credentials: str, mechanism: str) -> None:
    async with running(sink, auth="file", auth_file=credentials) as server:
        await in_thread(_login_and_send, server.port, "alice", "s3cret:with:colons", mechanism)
        await in_thread(_login_and_send, server.port, "bob", "hunter2", mechanism)
    assert [e.username for e in sink.received] == ["alice", "bob"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize(("user", "password"), [("bob", "wrong"), ("mallory", "hunter2"), ("bob", "")])
async def test_file_refuses_bad_credentials(sink: Sink, credentials: str, mechanism: str, user: str,
                                            password: str) -> None:
    async with running(sink, auth="file", auth_file=credentials) as server:
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            await in_thread(_login_and_send, server.port, user, password, mechanism)
    assert info.value.smtp_code == 535


def _mail_codes(port: int) -> tuple[int, int, int]:
    with RawSMTPClient(HOST, port) as client:
        expect(client.command("EHLO x"), 250)
        before = client.command("MAIL FROM:<a@example.com>").code
        plain = base64.b64encode(b"\0bob\0hunter2").decode()
        auth = client.command(f"AUTH PLAIN {plain}").code
        after = client.command("MAIL FROM:<a@example.com>").code
    return before, auth, after


async def test_auth_require_refuses_mail_before_auth(sink: Sink, credentials: str) -> None:
    async with running(sink, auth="file", auth_file=credentials, auth_require=True) as server:
        assert await in_thread(_mail_codes, server.port) == (530, 235, 250)


def _auth_when_off(port: int) -> tuple[bool, int]:
    with RawSMTPClient(HOST, port) as client:
        ehlo = client.command("EHLO x")
        advertised = any(line.startswith(b"AUTH") for line in ehlo.lines)
        return advertised, client.command("AUTH PLAIN AGJvYgBodW50ZXIy").code


async def test_auth_off_is_not_advertised_and_refused(sink: Sink) -> None:
    async with running(sink) as server:
        assert await in_thread(_auth_when_off, server.port) == (False, 502)


async def test_without_auth_require_mail_needs_no_auth(sink: Sink, credentials: str) -> None:
    async with running(sink, auth="file", auth_file=credentials) as server:
        await in_thread(sendmail, server.port, MESSAGE)
    assert [e.username for e in sink.received] == [""]


@pytest.mark.parametrize(("content", "error"), [
    (None, "cannot read"),
    ("no separator here\n", ":1: expected 'user:password'"),
    (":nouser\n", ":1: expected"),
])
async def test_bad_credentials_file_fails_at_start(tmp_path: Path, content: str | None, error: str) -> None:
    path = tmp_path / "users"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        await start_smtp(SMTPConfig(host=HOST, port=0, auth="file", auth_file=str(path)), Sink())


@pytest.mark.parametrize(("config", "error"), [
    ({"auth": "maybe"}, "auth must be one of"),
    ({"auth": "file"}, "needs a credentials file"),
    ({"tls_cert": "/x.pem"}, "both a certificate and a key"),
    ({"max_message_size": 0}, "max_message_size"),
    ({"max_recipients": 0}, "max_recipients"),
])
async def test_bad_config_is_a_clear_error(config: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        await start_smtp(SMTPConfig(host=HOST, port=0, **config), Sink())  # type: ignore[arg-type]
