"""The worker's direct-read input: a file decoded by a helper thread while the renderer reads it."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from mailcapture.errors import StorageError
from previewer.worker.failures import CorruptInput
from previewer.worker import source
from previewer.worker.source import DecodingInput
from tests.previewer import samples


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(1)
    yield pool
    pool.shutdown(wait=True)


def gated(data: bytes, piece: int, gate: threading.Event | None = None) -> Iterator[bytes]:
    for i in range(0, len(data), piece):
        if gate is not None and i:
            assert gate.wait(10)
        yield data[i : i + piece]


def test_reads_seeks_and_a_real_decoder_see_the_whole_file(executor: ThreadPoolExecutor) -> None:
    data = samples.jpeg(1200, 900)
    f = DecodingInput(gated(data, 7000), len(data), executor)
    assert f.read(4) == data[:4]
    assert f.seek(-10, io.SEEK_END) == len(data) - 10 and f.read() == data[-10:]
    assert f.read(5) == b"" and f.tell() == len(data)
    f.seek(100)
    buf = bytearray(50)
    assert f.readinto(buf) == 50 and bytes(buf) == data[100:150]
    f.seek(0)
    with Image.open(f) as im:
        im.load()
        assert im.size == (1200, 900)
    f.close()
    with pytest.raises(ValueError):
        f.read(1)


def test_a_read_waits_for_its_bytes_and_not_for_the_rest(executor: ThreadPoolExecutor) -> None:
    data = os.urandom(100_000)
    gate = threading.Event()
    f = DecodingInput(gated(data, 10_000, gate), len(data), executor)
    assert f.read(10_000) == data[:10_000]  # the first piece is there; the second waits for the gate
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(f.read(20_000)))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive() and not got
    gate.set()
    reader.join(10)
    assert got == [data[10_000:30_000]]
    assert f.read() == data[30_000:]
    f.close()


def test_pieces_read_by_the_caller_are_read_without_the_helper(executor: ThreadPoolExecutor) -> None:
    """The worker reads the first piece itself: the decoder starts on it while the helper thread is still
    asleep (here: busy with something else), and the sizes are checked over all the pieces."""
    data = os.urandom(50_000)
    busy = threading.Event()
    executor.submit(busy.wait, 10)  # the one helper thread cannot start on the rest yet
    f = DecodingInput(gated(data[20_000:], 10_000), len(data), executor, ready=[data[:20_000]])
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(f.read(20_000)))
    reader.start()
    reader.join(5)
    busy.set()
    assert got == [data[:20_000]]
    assert f.read() == data[20_000:]
    f.close()
    assert f.failure is None
    long = DecodingInput(gated(b"y" * 30, 10), 30, executor, ready=[b"x" * 10])
    assert long.read() == b"x" * 10 + b"y" * 20
    executor.submit(lambda: None).result(5)
    long.close()
    assert "longer than its recorded 30" in str(long.failure)


def test_what_stops_the_decoding_is_raised_by_the_read_that_needs_the_bytes(executor: ThreadPoolExecutor) -> None:
    def broken() -> Iterator[bytes]:
        yield b"a" * 1000
        raise StorageError("the message was deleted while its part was being read")

    f = DecodingInput(broken(), 5000, executor)
    assert f.read(1000) == b"a" * 1000
    with pytest.raises(StorageError, match="deleted"):
        f.read(1)
    f.close()
    short = DecodingInput(gated(b"x" * 10, 4), 20, executor)
    with pytest.raises(CorruptInput, match="10 bytes, not its recorded 20"):
        short.read()
    short.close()
    long = DecodingInput(gated(b"x" * 30, 4), 20, executor)
    assert long.read() == b"x" * 20  # the recorded size is all a reader gets ...
    executor.submit(lambda: None).result(5)  # the one helper thread is free: the producer has finished
    long.close()
    assert isinstance(long.failure, CorruptInput)  # ... and the excess is reported when the job ends
    assert "longer than its recorded 20" in str(long.failure)


def test_close_stops_the_helper_before_the_next_job(executor: ThreadPoolExecutor) -> None:
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        for i in range(10_000):
            produced.append(i)
            yield b"z" * 100
            time.sleep(0.001)  # a slow source (in the helper thread): 10 s for all of it

    f = DecodingInput(endless(), 100 * 10_000, executor)
    f.read(100)
    f.close()
    count = len(produced)
    assert count < 10_000  # stopped early
    assert executor.submit(lambda: len(produced)).result(5) == count  # nothing runs after close


def test_a_job_for_another_file_at_the_same_path_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from previewer.worker import source
    from previewer.worker.failures import MissingInput

    db = tmp_path / "mailcapture.db"
    db.write_bytes(b"")
    st = os.stat(db)
    span = {"pk": 1, "message_size": 10, "block_size": 1024, "encoding": "base64", "start": 0, "end": 10,
            "part_id": "1", "size": 7}
    store = {"db": str(db), "prefix": "", "device": st.st_dev, "inode": st.st_ino + 1, "span": span}
    with pytest.raises(MissingInput, match="not the file the job was made for"):
        with source.opened(store):
            pass


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to keep apart")
def test_the_helper_thread_keeps_off_the_workers_cpu_until_the_worker_waits_for_it() -> None:
    everywhere = os.sched_getaffinity(0)
    helper = source._helper_thread()
    tid = helper.submit(threading.get_native_id).result(5)
    cpu = min(everywhere)
    os.sched_setaffinity(0, {cpu})  # this thread plays the worker's thread, on a known CPU
    try:
        assert source._helper_thread() is helper  # each job takes the helper: it is placed then
        assert os.sched_getaffinity(tid) == everywhere - {cpu}
        data = os.urandom(30_000)
        gate = threading.Event()
        f = DecodingInput(gated(data[10_000:], 10_000, gate), len(data), helper, ready=[data[:10_000]])
        assert f.read(10_000) == data[:10_000]
        assert os.sched_getaffinity(tid) == everywhere - {cpu}  # no wait so far
        threading.Timer(0.1, gate.set).start()
        assert f.read() == data[10_000:]  # waited: the helper may run anywhere now
        assert os.sched_getaffinity(tid) == everywhere
        f.close()
    finally:
        os.sched_setaffinity(0, everywhere)
