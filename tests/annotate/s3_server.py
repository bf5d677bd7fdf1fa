"""A real S3-compatible server for the tests: moto's server mode (`python -m moto.server`), a
separate process on loopback, started once per test session. Buckets are made per test with
names of their own; credentials are any non-empty strings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-never-echoed"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(max_pool_connections=16, s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def start_s3_server(log: Path) -> S3Server:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return S3Server(f"http://127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not answer in 60 s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = start_s3_server(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    os.killpg(server.process.pid, 15)
    server.process.wait(timeout=20)
