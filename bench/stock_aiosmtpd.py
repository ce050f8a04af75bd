"""Stock aiosmtpd (its line-by-line DATA reader) with a handler that stores nothing: shows what the chunked
DATA reader of ``mailcapture`` gains. Opt-in benchmark target ``aiosmtpd``.

    python bench/stock_aiosmtpd.py --port 2525 [--host 127.0.0.1]
"""

from __future__ import annotations

import scriptserver
from aiosmtpd.smtp import SMTP, Envelope, Session

NO_SIZE_LIMIT = 0


class Discard:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        return "250 OK: message discarded"


if __name__ == "__main__":
    handler = Discard()
    scriptserver.main("Stock aiosmtpd that stores nothing",
                      lambda: SMTP(handler, data_size_limit=NO_SIZE_LIMIT, hostname="aiosmtpd.bench"))
