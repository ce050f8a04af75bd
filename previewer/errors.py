"""Every way a preview can fail, as exception classes carrying their HTTP status.

Workers report failures as values (``code`` + ``message``); :func:`from_code` turns them back into
these classes. The web layer maps any :class:`PreviewError` to the one JSON error shape
``{"Error": message, "Status": status}`` in one place (``previewer.web.error_middleware``).
"""

from __future__ import annotations

from http import HTTPStatus


class PreviewError(Exception):
    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(PreviewError):
    status = HTTPStatus.BAD_REQUEST
    code = "bad_request"


class NotFound(PreviewError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class TooLarge(PreviewError):
    """Over THUMBNAIL_IMAGE_SIZE_LIMIT (file) or THUMBNAIL_IMAGE_ORIGINAL_SIZE_LIMIT (decoded)."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "too_large"


class Unsupported(PreviewError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported"


class Corrupt(PreviewError):
    """The bytes claim a supported format but cannot be decoded; the message says what was wrong."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "corrupt"


class UpstreamError(PreviewError):
    """The capture service failed or could not be reached."""

    status = HTTPStatus.BAD_GATEWAY
    code = "upstream"


class Busy(PreviewError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "busy"

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Timeout(PreviewError):
    status = HTTPStatus.GATEWAY_TIMEOUT
    code = "timeout"


class WrongQueue(PreviewError):
    """Not an answer: a worker found that its input is not what its declared type said and belongs on
    another queue (``fmt``, ``queue``); the service moves the job there. Never reaches a client."""

    code = "requeue"

    def __init__(self, fmt: str, queue: str) -> None:
        super().__init__(f"the input is {fmt}, for the {queue} queue")
        self.fmt = fmt
        self.queue = queue


ERRORS_BY_CODE: dict[str, type[PreviewError]] = {
    cls.code: cls
    for cls in (PreviewError, BadRequest, NotFound, TooLarge, Unsupported, Corrupt, UpstreamError, Busy, Timeout)
}


def from_code(code: str, message: str) -> PreviewError:
    """A worker's error value -> the exception class for it (unknown codes are internal errors)."""
    return ERRORS_BY_CODE.get(code, PreviewError)(message)


def error_body(exc: PreviewError) -> dict[str, object]:
    return {"Error": exc.message, "Status": int(exc.status)}
