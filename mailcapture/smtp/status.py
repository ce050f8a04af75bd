"""SMTP replies the server sends itself (RFC 5321 codes with RFC 3463 enhanced status codes)."""

from __future__ import annotations

OK = "250 2.0.0 OK"
DATA_GO_AHEAD = "354 End data with <CR><LF>.<CR><LF>"
TOO_MANY_CONNECTIONS = "421 4.3.2 Too many connections, try again later"
DELIVERY_FAILED = "451 4.3.0 Error: could not store the message, try again later"
INSUFFICIENT_STORAGE = "452 4.3.1 Error: too much mail in flight, try again later"
TOO_MANY_RECIPIENTS = "452 4.5.3 Error: too many recipients"
MESSAGE_TOO_BIG = "552 5.3.4 Error: message size exceeds fixed maximum message size"
SYNTAX_DATA = "501 5.5.4 Syntax: DATA"
NEED_RCPT = "503 5.5.1 Error: need RCPT command"
AUTH_NOT_ENABLED = "502 5.5.1 Error: AUTH not enabled"
AUTH_REQUIRED = "530 5.7.0 Authentication required"

# EHLO keywords
EHLO_PIPELINING = "250-PIPELINING"
EHLO_AUTH_PREFIX = "250-AUTH"
