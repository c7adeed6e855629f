"""`stemcell serve`: the app's page on loopback, behind its printed token, nothing outside.

The attacks on it (token, Origin, session cap, a real browser) are in
tests/attacks/test_attack_serve.py.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[tuple[int, str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stemcell", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(f"open http://127.0.0.1:{port}/"), line
    yield port, line.split()[1], proc
    proc.terminate()
    proc.wait(10)


def test_serve_answers_on_loopback_only_and_the_page_stays_local(
        served: tuple[int, str, subprocess.Popen[str]]) -> None:
    port, url, proc = served
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                page = resp.read().decode()
            break
        except OSError:
            assert proc.poll() is None, "stemcell serve exited"
            assert time.monotonic() < deadline, "stemcell serve did not answer"
            time.sleep(0.2)
    assert "textual" in page.lower()
    assert "googleapis" not in page
    with pytest.raises(urllib.error.HTTPError) as no_token:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
    assert no_token.value.code == 403
    if shutil.which("ss") is None:
        return
    out = subprocess.run(["ss", "-tln"], capture_output=True, text=True).stdout
    listening = [line for line in out.splitlines() if f":{port} " in line]
    assert listening and all("127.0.0.1:" in line for line in listening), listening
