"""The local S3-compatible servers of the benchmarks, each a separate process on loopback,
filled through the server's own store rather than by HTTP puts (100,000 puts take minutes;
the benchmarks measure listing and registration, not puts):

- s3rver 3.7.1 (npm, Node.js; `npm ci --prefix benchmarks/s3rver`, run here when its
  node_modules is missing): a filesystem store whose listing walks only the directories a
  page needs, so a page costs the same whatever the bucket's size. Its objects are files:
  `<key>._S3rver_object` with `.md5` and `._S3rver_metadata.json` beside it, which is
  what its PutObject writes. It lists with continuation tokens ciphered with DES, which
  OpenSSL 3 keeps in its legacy provider: NODE_OPTIONS=--openssl-legacy-provider.
- moto's server (benchmarks/moto_filled.py fills it through moto's backend in its process).
  Each of its listing pages sorts every key of the bucket (see benchmarks/README.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
S3RVER = ROOT / "benchmarks" / "s3rver"
ACCESS_KEY, SECRET_KEY = "S3RVER", "S3RVER"  # s3rver's only credentials
JPEG_HEAD = b"\xff\xd8\xff\xe0" + b"\0" * 60


def key_of(prefix: str, i: int) -> str:
    """1,000 keys per sub-prefix, as cameras or batches lay them out."""
    return f"{prefix}{i // 1000:03d}/{i:06d}.jpg"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the S3 server did not answer in 60 s")


def s3rver_fill(store: Path, bucket: str, prefix: str, count: int, body: bytes = JPEG_HEAD) -> None:
    """`count` objects in s3rver's store, as its PutObject writes them (bucket created)."""
    s3rver_fill_bodies(store, bucket, prefix, count, [body])


def s3rver_fill_bodies(
    store: Path, bucket: str, prefix: str, count: int, bodies: list[bytes]
) -> None:
    """`count` objects whose bodies go round `bodies`, in s3rver's store as its PutObject
    writes them (bucket created)."""
    md5s = [hashlib.md5(body).hexdigest() for body in bodies]  # noqa: S324 (S3's ETag)
    metadata = json.dumps({"content-type": "image/jpeg"}, indent=2)
    root = os.path.join(store, bucket)
    os.makedirs(root, exist_ok=True)
    for i in range(count):
        path = os.path.join(root, key_of(prefix, i))
        if i % 1000 == 0:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        base = f"{path}._S3rver_"
        with open(base + "object", "wb") as handle:
            handle.write(bodies[i % len(bodies)])
        with open(base + "object.md5", "w") as handle:
            handle.write(md5s[i % len(bodies)])
        with open(base + "metadata.json", "w") as handle:
            handle.write(metadata)


def start_s3rver(store: Path, log: Path) -> tuple[subprocess.Popen, str]:
    if not (S3RVER / "node_modules" / "s3rver").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=S3RVER, check=True)
    port = _free_port()
    environment = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
    process = subprocess.Popen(
        [
            "node", str(S3RVER / "node_modules" / "s3rver" / "bin" / "s3rver.js"),
            "--directory", str(store), "--address", "127.0.0.1", "--port", str(port), "--silent",
        ],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=environment, start_new_session=True,
    )  # fmt: skip
    _wait(process, port, log)
    return process, f"http://127.0.0.1:{port}"


def start_moto_filled(
    bucket: str, prefix: str, count: int, log: Path, body_file: Path | None = None
) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [
        sys.executable, str(ROOT / "benchmarks" / "moto_filled.py"), "--port", str(port),
        "--bucket", bucket, "--prefix", prefix, "--objects", str(count),
    ]  # fmt: skip
    if body_file is not None:
        command += ["--body-file", str(body_file)]
    process = subprocess.Popen(
        command, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # filled when it says so
        if process.poll() is not None:
            raise RuntimeError(f"moto exited:\n{log.read_text()[-2000:]}")
        if "endpoint=" in log.read_text():
            return process, f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    raise RuntimeError("moto was not filled in 600 s")
