"""Read what the stack logged during one wrk run: nginx's access-log statuses, nginx's error-log lines, the
previewer's access-log statuses; and the kernel's TCP state counts (TIME_WAIT shows connection churn)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

# access_log format 'mailcapture': $remote_addr "$request" $status $body_bytes_sent $request_time up=...
NGINX_ACCESS = re.compile(r'^(?:nginx \| )?\S+ "[^"]*" (\d{3}) \d+ [\d.]+ up=(\S*)')
NGINX_ERROR = re.compile(r"\[(emerg|alert|crit|error|warn)\]")
# aiohttp's default access format: %a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"
AIOHTTP_ACCESS = re.compile(r'^previewer \|.*"(?:GET|HEAD) [^"]*" (\d{3}) ')
MAX_SAMPLES = 5
TCP_STATES = {"01": "established", "06": "time_wait", "08": "close_wait"}


def read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """Lines appended to ``path`` since ``offset`` and the new offset (a partial last line waits)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return [], offset
    cut = data.rfind(b"\n") + 1
    return data[:cut].decode("utf-8", "replace").splitlines(), offset + cut


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def spawn_count(path: Path) -> int:
    """How many times supervisord spawned a program (3 = nginx, capture service and previewer, no restart)."""
    count = 0
    try:
        with path.open("rb") as fh:
            for line in fh:
                count += b" INFO spawned: " in line and not line.startswith((b"nginx |", b"previewer |"))
    except OSError:
        return -1
    return count


def scan(lines: list[str]) -> dict[str, Any]:
    """Status classes of nginx and previewer access-log lines, and nginx's warn/error lines."""
    nginx: Counter[str] = Counter()
    nginx_exact: Counter[str] = Counter()
    upstream: Counter[str] = Counter()
    previewer: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    samples: list[str] = []
    for line in lines:
        m = NGINX_ACCESS.match(line)
        if m:
            status = m.group(1)
            nginx[status[0] + "xx"] += 1
            if status[0] != "2":
                nginx_exact[status] += 1
            up_status = m.group(2).rsplit("/", 2)
            if len(up_status) == 3 and not up_status[1].startswith("2"):
                upstream[up_status[1]] += 1
            continue
        m = AIOHTTP_ACCESS.match(line)
        if m:
            previewer[m.group(1)[0] + "xx"] += 1
            continue
        if line.startswith("nginx |") or not line.startswith(("mailcapture |", "previewer |")):
            e = NGINX_ERROR.search(line)
            if e:
                errors[e.group(1)] += 1
                if len(samples) < MAX_SAMPLES:
                    samples.append(line[:400])
    return {"nginx_access": dict(nginx), "nginx_non2xx_statuses": dict(nginx_exact),
            "nginx_upstream_non2xx": dict(upstream), "previewer_access": dict(previewer),
            "nginx_error_lines": dict(errors), "nginx_error_samples": samples}


def tcp_states(ports: set[int]) -> dict[str, int]:
    """Counts of TCP sockets in a few states whose local or remote port is one of ``ports`` (IPv4)."""
    counts = dict.fromkeys(TCP_STATES.values(), 0)
    try:
        rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return counts
    for row in rows:
        parts = row.split()
        if len(parts) < 4 or parts[3] not in TCP_STATES:
            continue
        local_port = int(parts[1].rsplit(":", 1)[1], 16)
        remote_port = int(parts[2].rsplit(":", 1)[1], 16)
        if local_port in ports or remote_port in ports:
            counts[TCP_STATES[parts[3]]] += 1
    return counts


NETSTAT_KEYS = ("ListenOverflows", "ListenDrops", "TCPAbortOnData", "TCPAbortOnClose")


SNMP_KEYS = ("ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets")


def _proc_table(path: str, prefix: str, keys: tuple[str, ...]) -> dict[str, int]:
    try:
        rows = [r.split() for r in Path(path).read_text().splitlines()]
    except OSError:
        return {}
    for head, values in zip(rows[::2], rows[1::2]):
        if head and head[0] == prefix:
            table = dict(zip(head[1:], values[1:]))
            return {k: int(table[k]) for k in keys if k in table}
    return {}


def netstat() -> dict[str, int]:
    """Host-wide TCP counters: accept-queue overflows, aborts (/proc/net/netstat) and connections opened
    (/proc/net/snmp; PassiveOpens counts accepted connections, so it shows nginx's upstream connection churn)."""
    return {**_proc_table("/proc/net/netstat", "TcpExt:", NETSTAT_KEYS),
            **_proc_table("/proc/net/snmp", "Tcp:", SNMP_KEYS)}


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}
