"""STARTTLS with a certificate made by ``trustme``; the envelope says whether TLS was used."""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

import pytest
import trustme

from mailcapture.smtp import SMTPConfig, start_smtp
from tests.smtp.helpers import HOST, Sink, connect, in_thread, running, sendmail

MESSAGE = b"Subject: tls\r\n\r\n" + bytes(range(128, 256)) + b"\r\n.dot\r\n"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def cert_files(ca: trustme.CA, tmp_path: Path) -> dict[str, str]:
    cert = ca.issue_cert(HOST, "localhost")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    return {"tls_cert": str(cert_path), "tls_key": str(key_path)}


def _starttls_send(port: int, ca: trustme.CA, login: bool) -> tuple[bool, bool]:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with connect(port) as client:
        client.ehlo()
        offered_before = client.has_extn("starttls")
        client.starttls(context=context)
        client.ehlo()
        offered_after = client.has_extn("starttls")
        if login:
            client.login("tls-user", "pw")
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    return offered_before, offered_after


@pytest.mark.parametrize("login", [False, True])
async def test_starttls_then_delivery(sink: Sink, ca: trustme.CA, cert_files: dict[str, str], login: bool) -> None:
    async with running(sink, auth="any", **cert_files) as server:
        assert await in_thread(_starttls_send, server.port, ca, login) == (True, False)
    [envelope] = sink.received
    assert envelope.tls is True and envelope.data == MESSAGE
    assert envelope.username == ("tls-user" if login else "")


async def test_plain_delivery_still_works_when_tls_is_offered(sink: Sink, cert_files: dict[str, str]) -> None:
    async with running(sink, **cert_files) as server:
        await in_thread(sendmail, server.port, MESSAGE)
    assert [(e.tls, e.data) for e in sink.received] == [(False, MESSAGE)]


def _untrusted_starttls(port: int) -> None:
    with connect(port) as client:
        client.starttls(context=ssl.create_default_context())


async def test_client_that_does_not_trust_the_certificate_fails_cleanly(sink: Sink,
                                                                        cert_files: dict[str, str]) -> None:
    async with running(sink, **cert_files) as server:
        with pytest.raises((ssl.SSLError, smtplib.SMTPException, ConnectionError)):
            await in_thread(_untrusted_starttls, server.port)
        await in_thread(sendmail, server.port, MESSAGE)  # the server is still fine
    assert sink.data == [MESSAGE]


async def test_unreadable_certificate_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot load STARTTLS"):
        await start_smtp(SMTPConfig(host=HOST, port=0, tls_cert=str(bad), tls_key=str(bad)), Sink())
