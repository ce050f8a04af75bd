"""SMTP AUTH (PLAIN and LOGIN): accept anything, or check a ``user:password`` file.

AUTH is allowed without TLS on purpose: this is a local development tool, the credentials are
test credentials, and most applications under test talk to it in plain text. (aiosmtpd refuses
AUTH before STARTTLS by default; the server passes ``auth_require_tls=False``.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from mailcapture.smtp.types import AUTH_ANY, AUTH_FILE

MAX_CREDENTIALS = 10_000
COMMENT = "#"
SEPARATOR = ":"
DECOY_BYTES = 32


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class CredentialsError(ValueError):
    """The credentials file is missing or malformed."""


def load_credentials(path: str) -> dict[bytes, bytes]:
    """Parse ``user:password`` lines (blank lines and ``#`` comments are skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CredentialsError(f"cannot read SMTP credentials file {path!r}: {error}") from error
    credentials: dict[bytes, bytes] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(COMMENT):
            continue
        user, sep, password = line.partition(SEPARATOR)
        if not sep or not user:
            raise CredentialsError(f"{path}:{number}: expected 'user:password'")
        if len(credentials) >= MAX_CREDENTIALS:
            raise CredentialsError(f"{path}: more than {MAX_CREDENTIALS} users")
        credentials[user.encode()] = password.encode()
    return credentials


class Authenticator:
    """The aiosmtpd ``authenticator`` callable for modes ``any`` and ``file``."""

    def __init__(self, mode: str, credentials: dict[bytes, bytes] | None = None) -> None:
        if mode not in (AUTH_ANY, AUTH_FILE):
            raise ValueError(f"no authenticator for auth mode {mode!r}")
        self._mode = mode
        self._credentials = credentials or {}
        self._decoy = secrets.token_bytes(DECOY_BYTES)

    def check(self, login: bytes, password: bytes) -> bool:
        if self._mode == AUTH_ANY:
            return True
        expected = self._credentials.get(login)
        # Equal-length digests compared in constant time; an unknown user is compared against a
        # random secret so timing tells neither users nor password lengths apart.
        ok = hmac.compare_digest(_digest(password), _digest(expected if expected is not None else self._decoy))
        return ok and expected is not None

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if self.check(auth_data.login, auth_data.password):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


def username_of(session: Session) -> str:
    """The authenticated user name of a session, or ""."""
    data = session.auth_data
    if session.authenticated and isinstance(data, LoginPassword):
        return data.login.decode("utf-8", errors="replace")
    return ""
