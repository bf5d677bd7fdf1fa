"""pytest plugin (loaded with -p from pyproject.toml): the suite's PostgreSQL and Redis.

With DATABASE_URL unset the suite runs on the embedded PostgreSQL (annotate/embedded), as a
newcomer's `make test` does; with REDIS_URL unset it starts a private Redis. Both are started
before pytest-django reads the settings, by the controlling process only: xdist workers
inherit the environment it set. Pointing DATABASE_URL / REDIS_URL at shared servers skips
both.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_private_redis: list[subprocess.Popen] = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if not os.environ.get("DATABASE_URL"):
        from annotate.embedded.postgres import ensure_database_url

        ensure_database_url(Path(os.environ.get("VAR_DIR") or ROOT / "var"))
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _start_redis()
    return (yield)


def _start_redis() -> str:
    from annotate.embedded.redis import start_private_redis

    run_dir = Path(tempfile.mkdtemp(prefix="annotate-test-redis-"))

    def spawn(argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)

    process, url = start_private_redis(run_dir, spawn)
    _private_redis.append(process)
    atexit.register(_stop_redis)
    return url


def _stop_redis() -> None:
    for process in _private_redis:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    _private_redis.clear()
