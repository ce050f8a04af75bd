import os
import subprocess
import sys
import threading

from mailcapture.stack.prefix import relay


def _relay(data: bytes) -> bytes:
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    chunks: list[bytes] = []

    def feed() -> None:
        os.write(w_in, data)
        os.close(w_in)

    def drain() -> None:
        while chunk := os.read(r_out, 1 << 20):
            chunks.append(chunk)

    threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    relay(r_in, w_out, b"svc | ")
    os.close(w_out)
    for t in threads:
        t.join(10)
    out = b"".join(chunks)
    os.close(r_in)
    os.close(r_out)
    return out


def test_every_line_gets_the_label_including_a_last_partial_one() -> None:
    assert _relay(b"one\ntwo\n\nthree") == b"svc | one\nsvc | two\nsvc | \nsvc | three\n"


def test_long_lines_pass_whole_or_in_pieces() -> None:
    out = _relay(b"x" * 200_000 + b"\nend\n")
    assert out.endswith(b"svc | end\n") and out.count(b"x") == 200_000


def test_exit_status_of_the_child_is_passed_on() -> None:
    code = subprocess.call([sys.executable, "-m", "mailcapture.stack.prefix", "t", "--", sys.executable, "-c",
                            "import sys; print('hi'); sys.exit(3)"], stdout=subprocess.DEVNULL)
    assert code == 3
