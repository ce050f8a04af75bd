"""``GET /api/v1/openapi.json``: a hand-written OpenAPI 3.0 description of every route.

A test checks that every route the app registers is described here (and nothing more).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailcapture import __version__

Obj = dict[str, Any]


def _ref(name: str) -> Obj:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Obj, description: str = "OK") -> Obj:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _typed(content_type: str, description: str = "OK", fmt: str = "binary") -> Obj:
    return {"description": description,
            "content": {content_type: {"schema": {"type": "string", "format": fmt}}}}


ERR = {"description": "Error", "content": {"application/json": {"schema": _ref("Error")}}}
OK_TEXT = {"description": "ok", "content": {"text/plain": {"schema": {"type": "string", "example": "ok"}}}}


def _param(name: str, where: str, description: str, type_: str = "string", required: bool = False,
           default: Any = None) -> Obj:
    schema: Obj = {"type": type_}
    if default is not None:
        schema["default"] = default
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


ID = _param("id", "path", "Message ID, or `latest` (the newest; with `query`, the newest match)")
PART = _param("part_id", "path", "MIME part path, e.g. `2` or `2.1`")
TAG = _param("tag", "path", "Tag name")
START = _param("start", "query", "Pagination offset", "integer", default=0)
LIMIT = _param("limit", "query", "Page size", "integer", default=50)
TZ = _param("tz", "query", "Time zone for after:/before: (e.g. Pacific/Auckland)")
QUERY = _param("query", "query", "Search (Mailpit syntax)", required=True)
LATEST_QUERY = _param("query", "query", "With ID `latest`: the newest message matching this search")


def _op(summary: str, responses: Obj, params: list[Obj] | None = None, body: Obj | None = None,
        tag: str = "message") -> Obj:
    op: Obj = {"summary": summary, "tags": [tag], "responses": {**responses, "default": ERR}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return op


def _obj(**props: Obj) -> Obj:
    return {"type": "object", "properties": props}


S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
STRS = {"type": "array", "items": S}

SCHEMAS: Obj = {
    "Error": _obj(Error=S, Status=I),
    "Address": _obj(Name=S, Address=S),
    "MessageSummary": _obj(
        ID=S, MessageID=S, Read=B, From=_ref("Address"), To={"type": "array", "items": _ref("Address")},
        Cc={"type": "array", "items": _ref("Address")}, Bcc={"type": "array", "items": _ref("Address")},
        ReplyTo={"type": "array", "items": _ref("Address")}, Subject=S,
        Created={"type": "string", "format": "date-time"}, Username=S, Tags=STRS, Size=I, Attachments=I,
        Snippet=S),
    "MessagesSummary": _obj(total=I, unread=I, count=I, messages_count=I, messages_unread=I, start=I,
                            tags=STRS, messages={"type": "array", "items": _ref("MessageSummary")}),
    "Attachment": _obj(PartID=S, FileName=S, ContentType=S, ContentID=S, Size=I,
                       Checksums=_obj(MD5=S, SHA1=S, SHA256=S), PreviewID=S, PreviewURL=S),
    "Message": _obj(
        ID=S, MessageID=S, From=_ref("Address"), To={"type": "array", "items": _ref("Address")},
        Cc={"type": "array", "items": _ref("Address")}, Bcc={"type": "array", "items": _ref("Address")},
        ReplyTo={"type": "array", "items": _ref("Address")}, ReturnPath=S, Subject=S,
        ListUnsubscribe=_obj(Header=S, Links=STRS, Errors=S, HeaderPost=S),
        Date={"type": "string", "format": "date-time"}, Tags=STRS, Username=S, Text=S, HTML=S, Size=I,
        Inline={"type": "array", "items": _ref("Attachment")},
        Attachments={"type": "array", "items": _ref("Attachment")}),
    "SendRequest": _obj(
        From=_obj(Email=S, Name=S), To={"type": "array", "items": _obj(Email=S, Name=S)},
        Cc={"type": "array", "items": _obj(Email=S, Name=S)}, Bcc=STRS,
        ReplyTo={"type": "array", "items": _obj(Email=S, Name=S)}, Subject=S, Text=S, HTML=S,
        Attachments={"type": "array", "items": _obj(Content=S, Filename=S, ContentType=S, ContentID=S)},
        Headers={"type": "object", "additionalProperties": S}, Tags=STRS),
    "Info": _obj(Version=S, LatestVersion=S, Database=S, DatabaseSize=I, Messages=I, Unread=I,
                 Tags={"type": "object", "additionalProperties": I},
                 RuntimeStats=_obj(Uptime=I, Memory=I, MessagesDeleted=I, SMTPAccepted=I,
                                   SMTPAcceptedSize=I, SMTPRejected=I, SMTPIgnored=I)),
}

MSG = "/api/v1/message/{id}"

PATHS: Obj = {
    "/api/v1/messages": {
        "get": _op("List messages, newest first", {"200": _json(_ref("MessagesSummary"))},
                   [START, LIMIT], tag="messages"),
        "put": _op("Set read status of IDs, of search matches, or of all", {"200": OK_TEXT}, [TZ],
                   _obj(IDs=STRS, Read=B, Search=S), tag="messages"),
        "delete": _op("Delete messages by ID (no IDs: all)", {"200": OK_TEXT}, None, _obj(IDs=STRS),
                      tag="messages"),
    },
    "/api/v1/search": {
        "get": _op("Search messages", {"200": _json(_ref("MessagesSummary"))}, [QUERY, START, LIMIT, TZ],
                   tag="messages"),
        "delete": _op("Delete every message matching a search", {"200": OK_TEXT}, [QUERY, TZ],
                      tag="messages"),
    },
    MSG: {"get": _op("Get a message (marks it read)", {"200": _json(_ref("Message"))}, [ID, LATEST_QUERY])},
    MSG + "/headers": {"get": _op("Get the headers: name -> values",
                                  {"200": _json({"type": "object", "additionalProperties": STRS})},
                                  [ID, LATEST_QUERY])},
    MSG + "/raw": {"get": _op("Get the message source", {"200": _typed("text/plain", fmt="text")},
                              [ID, LATEST_QUERY, _param("dl", "query", "1: download as {ID}.eml")])},
    MSG + "/part/{part_id}": {"get": _op("Get a part's decoded bytes",
                                         {"200": _typed("application/octet-stream")}, [ID, PART])},
    MSG + "/part/{part_id}/thumb": {"get": _op("Get a thumbnail (placeholder when none)",
                                               {"200": _typed("image/*")}, [ID, PART])},
    "/api/v1/send": {"post": _op("Send (inject) a message", {"200": _json(_obj(ID=S))}, None,
                                 _ref("SendRequest"))},
    "/api/v1/tags": {
        "get": _op("List tags", {"200": _json(STRS)}, tag="tags"),
        "put": _op("Set the tags of messages", {"200": OK_TEXT}, None, _obj(IDs=STRS, Tags=STRS), tag="tags"),
    },
    "/api/v1/tags/{tag}": {
        "put": _op("Rename a tag", {"200": OK_TEXT}, [TAG], _obj(Name=S), tag="tags"),
        "delete": _op("Delete a tag", {"200": OK_TEXT}, [TAG], tag="tags"),
    },
    "/api/v1/info": {"get": _op("Application information", {"200": _json(_ref("Info"))}, tag="application")},
    "/api/v1/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"})},
                                        tag="application")},
    "/api/events": {"get": _op("Live events over a WebSocket: text frames {\"Type\", \"Data\"} "
                               "(new, update, delete, truncate, prune, stats)",
                               {"101": {"description": "Switching to the WebSocket protocol"}},
                               tag="application")},
    "/view/{id}.html": {"get": _op("The HTML body alone, scripts blocked by CSP",
                                   {"200": _typed("text/html", fmt="text")}, [ID, LATEST_QUERY],
                                   tag="view")},
    "/view/{id}.txt": {"get": _op("The text body alone", {"200": _typed("text/plain", fmt="text")},
                                  [ID, LATEST_QUERY], tag="view")},
    "/preview/{preview_id}": {"get": _op(
        "A preview image from the previewer (forwarded); 502 when it is unreachable",
        {"200": _typed("image/*")},
        [_param("preview_id", "path", "Preview id (a part's SHA-256)"),
         _param("size", "query", "Longest side in pixels", "integer")], tag="view")},
    "/internal/blob/{sha256}": {"get": _op(
        "Decoded bytes of a part by content hash (for the previewer)",
        {"200": _typed("application/octet-stream")},
        [_param("sha256", "path", "Hex SHA-256 of the part's decoded bytes")], tag="internal")},
    "/internal/store": {"get": _op(
        "Where a previewer on this machine can read parts directly: engine, file path, device and inode, "
        "table prefix; 404 when the store cannot be read that way",
        {"200": _json({"type": "object"}), "404": ERR}, tag="internal")},
    "/": {"get": _op("The web inbox", {"200": _typed("text/html", fmt="text")}, tag="inbox")},
    "/ui/{tail}": {"get": _op(
        "Static files of the web inbox (under /ui/<version>/ they are immutable)", {"200": _typed("*/*")},
        [_param("tail", "path", "File path, optionally after a version segment")], tag="inbox")},
    "/livez": {"get": _op("Liveness probe", {"200": OK_TEXT}, tag="probes")},
    "/readyz": {"get": _op("Readiness probe (the store answers)", {"200": OK_TEXT}, tag="probes")},
    "/metrics": {"get": _op("Prometheus metrics", {"200": _typed("text/plain", fmt="text")}, tag="probes")},
}

DOCUMENT: Obj = {
    "openapi": "3.0.3",
    "info": {"title": "mailcapture API", "version": __version__,
             "description": "Mailpit-compatible API v1 of the mailcapture service."},
    "paths": PATHS,
    "components": {"schemas": SCHEMAS},
}


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
