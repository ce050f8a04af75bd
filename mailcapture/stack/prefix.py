"""Run a program with every line of its output prefixed by a name: ``prefix NAME -- CMD ...``.

The stack's three processes log to one place (the supervisor's stdout); this puts the process name
on every line. Output is relayed in chunks (one read and one write per chunk, not per line). Signals
are passed on to the child and the child's exit status is ours, so the supervisor sees the
program's own exit (e.g. the previewer's memory-limit exit) and restarts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
PR_SET_PDEATHSIG = 1
READ_SIZE = 65536
MAX_PARTIAL_LINE = 65536  # a longer line without a newline is written out in pieces


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this wrapper dies (e.g. kill -9), so no orphan keeps the port."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def relay(fd: int, out: int, label: bytes) -> None:
    """Copy ``fd`` to ``out`` until EOF, ``label`` before every line."""
    partial = b""
    while True:
        try:
            chunk = os.read(fd, READ_SIZE)
        except InterruptedError:
            continue
        if not chunk:
            break
        data = partial + chunk
        complete, sep, partial = data.rpartition(b"\n")
        if len(partial) > MAX_PARTIAL_LINE:
            complete, sep, partial = data, b"\n", b""
        if sep:
            lines = complete.split(b"\n")
            os.write(out, b"".join(label + line + b"\n" for line in lines))
    if partial:
        os.write(out, label + partial + b"\n")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: prefix NAME -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    name, command = argv[0], argv[2:]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             preexec_fn=_die_with_parent)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    assert child.stdout is not None
    relay(child.stdout.fileno(), sys.stdout.fileno(), name.encode() + b" | ")
    code = child.wait()
    if code < 0:  # killed by a signal: report it the way a shell would
        return 128 - code
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
