"""Run a program with every line of its output prefixed by a name: ``prefix NAME -- CMD ...``.

The stack's three processes log to one place (the supervisor's stdout); this puts the process name
on every line. Signals are passed on to the child and the child's exit status is ours, so the
supervisor sees the program's own exit (e.g. the previewer's memory-limit exit) and restarts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this wrapper dies (e.g. kill -9), so no orphan keeps the port."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


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
    out = sys.stdout.buffer
    label = name.encode() + b" | "
    for line in iter(child.stdout.readline, b""):
        out.write(label + line if line.endswith(b"\n") else label + line + b"\n")
        out.flush()
    code = child.wait()
    if code < 0:  # killed by a signal: report it the way a shell would
        return 128 - code
    return code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main(sys.argv[1:]))
