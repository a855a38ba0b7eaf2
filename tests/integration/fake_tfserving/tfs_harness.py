"""Test harness for the fake TF Serving server: server processes, the GCS emulator, configs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import requests

from tests.support.gcs import fake_gcs_server

REPO = Path(__file__).resolve().parents[3]
MODEL = "counter"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def config_text(*models: str) -> str:
    return "model_config_list {\n" + "".join(f"  config {{ {m} }}\n" for m in models) + "}\n"


def model_entry(
    base_path: str, versions: list[int] | None, labels: dict[str, int] | None = None, name: str = MODEL
) -> str:
    """One `config { ... }` body; versions=None keeps the default policy, latest{1}."""
    text = f'name: "{name}" base_path: "{base_path}" model_platform: "tensorflow" '
    if versions is not None:
        specific = " ".join(f"versions: {v}" for v in versions)
        text += f"model_version_policy {{ specific {{ {specific} }} }} "
    for label, version in (labels or {}).items():
        text += f'version_labels {{ key: "{label}" value: {version} }} '
    return text


class ServerProcess:
    """`python -m fake_tfserving` on 127.0.0.1 with free ports, as a real subprocess."""

    def __init__(self, workdir: Path, flags: list[str], env: dict[str, str] | None = None) -> None:
        self.grpc_port = free_port()
        self.rest_port = free_port()
        self.log_path = workdir / f"server-{self.rest_port}.log"
        self._log = self.log_path.open("w")
        environment = {**os.environ, "PYTHONPATH": str(REPO / "hack"), **(env or {})}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fake_tfserving",
                f"--port={self.grpc_port}",
                f"--rest_api_port={self.rest_port}",
                *flags,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=REPO,
        )
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only, never through a proxy
        self._channel: grpc.Channel | None = None

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log}")
            if _port_open(self.rest_port) and _port_open(self.grpc_port):
                return
            time.sleep(0.2)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.log}")

    def wait_exit(self, timeout: float = 90) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server still running after {timeout}s:\n{self.log}") from None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.rest_port}{path}"

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.url(path), timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.http.post(self.url(path), json=body, timeout=60)

    def states(self, model: str = MODEL) -> dict[int, tuple[str, str, str]]:
        response = self.get(f"/v1/models/{model}")
        assert response.status_code == 200, response.text
        return {
            int(entry["version"]): (
                entry["state"],
                entry["status"]["error_code"],
                entry["status"]["error_message"],
            )
            for entry in response.json()["model_version_status"]
        }

    def wait_state(self, version: int, state: str, timeout: float = 60, model: str = MODEL) -> None:
        deadline = time.monotonic() + timeout
        seen: dict[int, tuple[str, str, str]] = {}
        while time.monotonic() < deadline:
            response = self.get(f"/v1/models/{model}")
            if response.status_code == 200:
                seen = self.states(model)
                if seen.get(version, ("",))[0] == state:
                    return
            time.sleep(0.1)
        raise AssertionError(f"version {version} never reached {state}; last seen {seen}\n{self.log}")

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{self.grpc_port}", options=[("grpc.enable_http_proxy", 0)]
            )
        return self._channel

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def copy_versions(library: Path, target: Path, versions: list[int]) -> None:
    for version in versions:
        shutil.copytree(library / str(version), target / str(version))


class FakeGcs:
    """fake-gcs-server on loopback, filesystem backend; its log goes to a file, never a pipe."""

    def __init__(self, workdir: Path) -> None:
        self._server = fake_gcs_server(workdir / "gcs-root", workdir / "fake-gcs.log")
        self.url = self._server.__enter__()
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        self.client = storage.Client(
            project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url}
        )

    @property
    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.url}

    def create_bucket(self, name: str) -> None:
        self.client.create_bucket(name)

    def upload_dir(self, local: Path, bucket: str, prefix: str) -> None:
        target = self.client.bucket(bucket)
        for path in sorted(local.rglob("*")):
            if path.is_file():
                target.blob(f"{prefix}/{path.relative_to(local).as_posix()}").upload_from_filename(str(path))

    def stop(self) -> None:
        self._server.__exit__(None, None, None)
