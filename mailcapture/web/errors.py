"""The one place where failures become HTTP responses.

Every error reaches the client as ``{"Error": "<message>", "Status": <int>}`` with that status.
The status comes from the exception class (``MailcaptureError.status`` or aiohttp's
``HTTPException.status``), never from the text of a message.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler

from mailcapture.errors import MailcaptureError

log = logging.getLogger(__name__)


class BadGateway(MailcaptureError):
    """An upstream service (the previewer) could not be reached or answered garbage."""

    status = HTTPStatus.BAD_GATEWAY


def error_body(message: str, status: int) -> dict[str, object]:
    return {"Error": message, "Status": int(status)}


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(message, status), status=int(status), headers=headers)


def _http_exception_message(exc: web.HTTPException) -> str:
    text = exc.text or ""
    # aiohttp's default bodies look like "404: Not Found"; keep the reason only.
    prefix = f"{exc.status}: "
    if text.startswith(prefix):
        text = text[len(prefix):]
    return text.strip() or exc.reason


# Headers of an aiohttp HTTPException worth keeping on the JSON error (e.g. Allow on 405).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MailcaptureError as exc:
        if exc.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            log.warning("%s %s -> %d: %s", request.method, request.path, exc.status, exc.message)
        return error_response(exc.message, exc.status)
    except web.HTTPException as exc:
        if exc.status < HTTPStatus.BAD_REQUEST:
            raise  # redirects and other non-errors pass through untouched
        headers = {k: exc.headers[k] for k in _KEPT_HEADERS if k in exc.headers}
        return error_response(_http_exception_message(exc), exc.status, headers)
    except ConnectionResetError:
        raise  # the client went away (or a stream broke after the headers were sent)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("internal server error", HTTPStatus.INTERNAL_SERVER_ERROR)
