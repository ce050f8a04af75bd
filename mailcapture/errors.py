"""The small exception hierarchy of the capture service.

Every error a request can meet is one of these; each carries its HTTP status, and the web layer
turns any of them into the one JSON error body ``{"Error": message, "Status": status}`` in one
place (``mailcapture.web.errors``). Storage and parsing code raise these without knowing HTTP.
"""

from __future__ import annotations

from http import HTTPStatus


class MailcaptureError(Exception):
    status: int = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(MailcaptureError):
    status = HTTPStatus.BAD_REQUEST


class NotFound(MailcaptureError):
    status = HTTPStatus.NOT_FOUND


class PayloadTooLarge(MailcaptureError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class Unavailable(MailcaptureError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class StorageError(MailcaptureError):
    """The store could not complete an operation; nothing was half-written."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
