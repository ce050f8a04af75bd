"""Interleaved runner (``smtp_bench.py --interleave``): every target runs at once and the client takes turns.

On a small machine shared with other work, load comes and goes over seconds; running targets one after the
other lets one target meet a quiet minute and the next a busy one. Here each large message i goes to every
target in turn (the order rotated each round, over one connection per target), and the small messages go in
blocks of ``SMALL_BLOCK`` per target in turn, so every target sees the same background load.
Before each turn the client waits (bounded) until all targets' CPU is idle, so work a target defers past its
250 reply is not charged to the next one; that deferred work still shows in ``target_cpu_s_per_message``.
Rates are per-message times summed (not wall time, which includes the other targets' turns).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import gen
import phases
import rawclient
import targets as tg

SMALL_BLOCK = 100
SETTLE_WINDOW_S = 0.1
SETTLE_IDLE_CPU_S = 0.015  # at most one 10 ms clock tick of CPU in the window
SETTLE_MAX_S = 3.0
MAX_KEPT_ERRORS = 5


def settle(pids: list[int]) -> float:
    """Wait until the process trees of ``pids`` use (almost) no CPU, at most ``SETTLE_MAX_S``; seconds waited."""
    t0 = time.monotonic()
    prev = sum(phases.tree_cpu_seconds(pid) for pid in pids)
    while time.monotonic() - t0 < SETTLE_MAX_S:
        time.sleep(SETTLE_WINDOW_S)
        cur = sum(phases.tree_cpu_seconds(pid) for pid in pids)
        if cur - prev < SETTLE_IDLE_CPU_S:
            break
        prev = cur
    return time.monotonic() - t0


def _rotated(names: list[str], k: int) -> list[str]:
    k %= max(1, len(names))
    return names[k:] + names[:k]


def _large_phase(running: dict[str, tg.RunningTarget], outs: dict[str, dict[str, Any]], msgs: phases.Messages,
                 args: argparse.Namespace) -> None:
    names = list(running)
    pids = [t.pid for t in running.values()]
    results = {name: rawclient.LargeRunResult() for name in names}
    clients: dict[str, rawclient.RawSmtpClient] = {}
    for name, target in running.items():
        client = rawclient.RawSmtpClient(tg.HOST, target.smtp_port)
        try:
            client.connect()
            client.ehlo()
            clients[name] = client
        except (OSError, rawclient.SmtpReplyError) as exc:
            results[name].error = f"{type(exc).__name__}: {exc}"
            client.close()
    samplers = {name: tg.RssSampler(t.pid) for name, t in running.items()}
    cpu0 = {name: phases.tree_cpu_seconds(t.pid) for name, t in running.items()}
    io0 = {name: phases.tree_write_bytes(t.pid) for name, t in running.items()}
    deadline = time.monotonic() + phases.LARGE_DEADLINE_S * len(names)
    for sampler in samplers.values():
        sampler.__enter__()
    try:
        for i in range(len(msgs.large)):
            for name in _rotated(names, i):
                res = results[name]
                if res.error is not None or name not in clients:
                    continue
                settle(pids)
                try:
                    timing = clients[name].send(gen.SENDER, gen.RECIPIENTS, msgs.large[i], msgs.large_size)
                except (OSError, rawclient.SmtpReplyError) as exc:
                    res.error = f"message {i}: {type(exc).__name__}: {exc}"
                    continue
                res.timings.append(timing)
                res.wall_seconds += timing.seconds
            if time.monotonic() > deadline:
                for res in results.values():
                    res.error = res.error or f"deadline reached after {i + 1} rounds"
                break
    finally:
        for sampler in samplers.values():
            sampler.__exit__(None, None, None)
        for client in clients.values():
            try:
                client.quit()
            except (OSError, rawclient.SmtpReplyError):
                pass
            client.close()
    for name, target in running.items():
        cpu = phases.tree_cpu_seconds(target.pid) - cpu0[name]
        written = phases.tree_write_bytes(target.pid) - io0[name]
        phases.record_large(outs[name], results[name], msgs.large_size, samplers[name], cpu, written)
    for name, target in running.items():
        phases.record_disk_and_fetch(outs[name], target, msgs, results[name], args)


def _small_phase(running: dict[str, tg.RunningTarget], outs: dict[str, dict[str, Any]], msgs: phases.Messages,
                 args: argparse.Namespace) -> None:
    names = list(running)
    pids = [t.pid for t in running.values()]
    totals = {name: rawclient.SmallRunResult() for name in names}
    samplers = {name: tg.RssSampler(t.pid) for name, t in running.items()}
    deadline = time.monotonic() + phases.SMALL_DEADLINE_S * len(names)
    for sampler in samplers.values():
        sampler.__enter__()
    try:
        for block, start in enumerate(range(0, len(msgs.small), SMALL_BLOCK)):
            for name in _rotated(names, block):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                settle(pids)
                res = rawclient.run_small(tg.HOST, running[name].smtp_port, msgs.small[start:start + SMALL_BLOCK],
                                          gen.SENDER, gen.RECIPIENTS, concurrency=args.concurrency,
                                          deadline_s=remaining)
                acc = totals[name]
                acc.sent += res.sent
                acc.failed += res.failed
                acc.wall_seconds += res.wall_seconds
                acc.latencies.extend(res.latencies)
                acc.errors.extend(res.errors[: max(0, MAX_KEPT_ERRORS - len(acc.errors))])
    finally:
        for sampler in samplers.values():
            sampler.__exit__(None, None, None)
    for name in names:
        phases.record_small(outs[name], totals[name], len(msgs.small), args.concurrency, samplers[name])


def run_interleaved(specs: list[tg.TargetSpec], msgs: phases.Messages, args: argparse.Namespace,
                    workdir: Path) -> list[dict[str, Any]]:
    outs = {spec.name: phases.new_result(spec) for spec in specs}
    running: dict[str, tg.RunningTarget] = {}
    try:
        for spec in specs:
            print(f"== {spec.name}: starting", flush=True)
            try:
                running[spec.name] = tg.start_target(spec, workdir, args.nice, args.mailcapture_env)
                phases.record_start(outs[spec.name], running[spec.name])
            except tg.TargetError as exc:
                outs[spec.name]["error"] = str(exc)
                print(f"   {spec.name}: {exc}", flush=True)
        if running and msgs.large:
            print(f"== large run, interleaved over {len(running)} targets", flush=True)
            _large_phase(running, outs, msgs, args)
        if running and msgs.small:
            print(f"== small run, interleaved in blocks of {SMALL_BLOCK}", flush=True)
            _small_phase(running, outs, msgs, args)
    finally:
        for name, target in running.items():
            phases.finish(outs[name], target, args.keep_data)
    return [outs[spec.name] for spec in specs]
