"""HEAD on streamed responses sends headers only."""

from __future__ import annotations

import asyncio
import hashlib

from tests.web.conftest import PNG_1PX, WebEnv, make_mail


async def test_head_of_a_streamed_blob_has_no_body(env: WebEnv) -> None:
    await env.deliver(make_mail("head", attachment=PNG_1PX))
    sha = hashlib.sha256(PNG_1PX).hexdigest()
    host, port = env.client.host, env.client.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"HEAD /internal/blob/{sha} HTTP/1.1\r\nHost: x\r\n\r\n"
                 f"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and f"Content-Length: {len(PNG_1PX)}".encode() in head
    assert rest.startswith(b"HTTP/1.1 200")  # the next response follows at once: no body was sent
