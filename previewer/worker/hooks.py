"""Test-only inputs (PREVIEWER_TEST_HOOKS=true): make a worker hang or grow on purpose.

``PREVIEWER-SLEEP <queue> <seconds> [nonce]`` sleeps, ``PREVIEWER-BLOAT <queue> <MB> <seconds> [nonce]``
allocates and touches MB megabytes, keeps them, then sleeps; both answer a small grey JPEG.
``PREVIEWER-CRASH <queue>`` kills the worker the way a segfaulting decoder would.
This runs in a worker process, which has no event loop: blocking here is the point (a hung decoder).
"""

from __future__ import annotations

import os
import time

from PIL import Image

from previewer.worker.failures import CorruptInput
from previewer.worker.output import Rendered, thumbnail

_KEEP: list[bytes] = []  # bloat stays allocated until the worker is replaced
MIB = 1024 * 1024
GREY = (128, 128, 128)


def render(source: str | bytes, size: int) -> Rendered:
    data = source if isinstance(source, bytes) else open(source, "rb").read(4096)
    words = data.split()
    try:
        if words[0] == b"PREVIEWER-SLEEP":
            time.sleep(float(words[2]))
        elif words[0] == b"PREVIEWER-BLOAT":
            _KEEP.append(b"\x01" * int(float(words[2]) * MIB))
            time.sleep(float(words[3]))
        elif words[0] == b"PREVIEWER-CRASH":
            os.abort()
        else:
            raise CorruptInput("unknown test hook")
    except (IndexError, ValueError):
        raise CorruptInput("malformed test hook") from None
    return thumbnail(Image.new("RGB", (size, size), GREY), size)
