"""Benchmark targets as subprocesses: the bare sink, MailDev, and ``mailcapture serve``.

``start_target(spec, workdir)`` starts one, waits until its SMTP port greets (and its HTTP port, if any,
accepts connections) and returns a ``RunningTarget``; ``RunningTarget.stop()`` ends exactly that process
(and its children). ``RssSampler`` samples the RSS of the target's process tree every ~20 ms in a thread.
Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENV_PYTHON = REPO_DIR / ".venv" / "bin" / "python"
MAILCAPTURE_BIN = REPO_DIR / ".venv" / "bin" / "mailcapture"
MAILDEV_DIR = BENCH_DIR / "peers" / "maildev"
MAILDEV_JS = MAILDEV_DIR / "node_modules" / "maildev" / "dist" / "bin" / "maildev.js"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.05
RSS_INTERVAL_S = 0.02
COMPRESSION_LEVELS = (0, 1, 3)
SCRIPT_TARGETS = {"sink": "sink.py", "aiosmtpd": "stock_aiosmtpd.py"}  # SMTP only, no HTTP, no data dir


class TargetError(RuntimeError):
    """A target could not be started or did not become ready."""


@dataclass(frozen=True)
class TargetSpec:
    name: str  # "sink", "maildev", "mailcapture-z1", ...
    kind: str  # "sink" | "maildev" | "mailcapture"
    compression: int | None = None


def target_specs(names: list[str]) -> list[TargetSpec]:
    """``sink``, ``aiosmtpd`` (stock, stores nothing), ``maildev``, ``mailcapture`` (= all levels) or
    ``mailcapture-zN``."""
    specs: list[TargetSpec] = []
    for name in names:
        if name in ("sink", "aiosmtpd", "maildev"):
            specs.append(TargetSpec(name, name))
        elif name == "mailcapture":
            specs.extend(TargetSpec(f"mailcapture-z{lvl}", "mailcapture", lvl) for lvl in COMPRESSION_LEVELS)
        elif name.startswith("mailcapture-z") and name[len("mailcapture-z") :].isdigit():
            specs.append(TargetSpec(name, "mailcapture", int(name[len("mailcapture-z") :])))
        else:
            raise ValueError(f"unknown target {name!r} (sink, aiosmtpd, maildev, mailcapture, mailcapture-zN)")
    return specs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class RunningTarget:
    spec: TargetSpec
    proc: subprocess.Popen[bytes]
    smtp_port: int
    http_port: int | None
    data_dir: Path | None
    log_path: Path
    startup_seconds: float = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM the process and its children (by pid), SIGKILL whatever is left after a timeout."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        for child in children:
            try:
                child.wait(1.0)
            except psutil.TimeoutExpired:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        return self.proc.returncode

    def log_tail(self, max_bytes: int = 2000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode("utf-8", "replace")


def _smtp_greets(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2.0) as s:
            s.settimeout(5.0)
            return s.recv(512).startswith(b"220")
    except OSError:
        return False


def _http_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _command(
    spec: TargetSpec, smtp_port: int, http_port: int | None, data_dir: Path | None, extra_env: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if spec.kind in SCRIPT_TARGETS:
        python = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)
        return [str(python), str(BENCH_DIR / SCRIPT_TARGETS[spec.kind]), "--host", HOST, "--port", str(smtp_port)], env
    if spec.kind == "maildev":
        if not MAILDEV_JS.exists():
            raise TargetError(f"MailDev is not installed: run bench/setup_peers.sh ({MAILDEV_JS} missing)")
        node = shutil.which("node")
        if node is None:
            raise TargetError("node is not on PATH")
        return [node, str(MAILDEV_JS), "-s", str(smtp_port), "--ip", HOST, "-w", str(http_port),
                "--web-ip", HOST, "--mail-directory", str(data_dir), "--silent"], env
    if not MAILCAPTURE_BIN.exists():
        raise TargetError(f"{MAILCAPTURE_BIN} missing: install the project (make install)")
    env.update({
        "MAILCAPTURE_SMTP_ADDR": f"{HOST}:{smtp_port}",
        "MAILCAPTURE_HTTP_ADDR": f"{HOST}:{http_port}",
        "MAILCAPTURE_DATA_DIR": str(data_dir),
        "MAILCAPTURE_COMPRESSION": str(spec.compression),
        "MAILCAPTURE_MAX_MESSAGES": "0",
        "MAILCAPTURE_PREVIEWER_URL": "",
    })
    env.update(extra_env)
    return [str(MAILCAPTURE_BIN), "serve"], env


def start_target(
    spec: TargetSpec, workdir: Path, nice: int | None = None, mailcapture_env: dict[str, str] | None = None
) -> RunningTarget:
    """Start ``spec`` and wait until it answers. ``nice``: scheduling priority for it and its children
    (negative values need root: they shield the measurement from other work on a shared machine).
    ``mailcapture_env``: extra environment for mailcapture targets only (e.g. GLIBC_TUNABLES)."""
    smtp_port = free_port()
    http_port = None if spec.kind in SCRIPT_TARGETS else free_port()
    data_dir = None if spec.kind in SCRIPT_TARGETS else workdir / f"{spec.name}-data"
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    argv, env = _command(spec, smtp_port, http_port, data_dir, mailcapture_env or {})
    log_path = workdir / f"{spec.name}.log"
    t0 = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(REPO_DIR))
    if nice is not None:
        try:
            psutil.Process(proc.pid).nice(nice)
        except (psutil.Error, OSError) as exc:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)
            raise TargetError(f"cannot set nice {nice} for {spec.name}: {exc}") from exc
    target = RunningTarget(spec, proc, smtp_port, http_port, data_dir, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    smtp_ok = False
    http_ok = http_port is None
    while time.monotonic() < deadline:
        if not target.alive():
            raise TargetError(f"{spec.name} exited with {proc.returncode} during start-up:\n{target.log_tail()}")
        smtp_ok = smtp_ok or _smtp_greets(smtp_port)
        http_ok = http_ok or (http_port is not None and _http_accepts(http_port))
        if smtp_ok and http_ok:
            target.startup_seconds = time.perf_counter() - t0
            return target
        time.sleep(POLL_S)
    target.stop()
    raise TargetError(f"{spec.name} not ready after {START_TIMEOUT_S:.0f} s (smtp={smtp_ok}, http={http_ok}):\n"
                      f"{target.log_tail()}")


def tree_rss_by_process(pid: int) -> dict[str, int]:
    """RSS in bytes of a process and each of its descendants, keyed ``"name[pid]"`` (empty if it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    out: dict[str, int] = {}
    for proc in procs:
        try:
            out[f"{proc.name()}[{proc.pid}]"] = proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def tree_rss(pid: int) -> int:
    """RSS in bytes of a process and all its descendants (0 if it is gone)."""
    return sum(tree_rss_by_process(pid).values())


@dataclass
class RssSampler:
    """Samples the RSS of ``pid``'s process tree every ``interval`` seconds in a daemon thread (a context manager).

    The list of descendants (a scan of /proc) is refreshed every ``CHILDREN_REFRESH`` samples only, so sampling
    costs the benchmark client little CPU.
    """

    pid: int
    interval: float = RSS_INTERVAL_S
    peak: int = 0
    peak_breakdown: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    first: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    CHILDREN_REFRESH = 10

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _run(self) -> None:
        procs: list[psutil.Process] = []
        while not self._stop.is_set():
            if self.samples % self.CHILDREN_REFRESH == 0:
                procs = self._tree()
            by_proc: dict[str, int] = {}
            for proc in procs:
                try:
                    by_proc[f"{proc.name()}[{proc.pid}]"] = proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            rss = sum(by_proc.values())
            if self.samples == 0:
                self.first = rss
            self.samples += 1
            if rss > self.peak:
                self.peak, self.peak_breakdown = rss, by_proc
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, name=f"rss-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)


def dir_size(path: Path) -> int:
    """Bytes of all regular files under ``path`` (SQLite's -wal and -shm files included)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
