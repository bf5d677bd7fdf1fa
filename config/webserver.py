"""The web server's command line, in one place: `manage.py serve`, the benchmarks and the
scale-out run start the same server the same way (the Procfile spells it out).

granian (a WSGI server whose HTTP side is written in Rust) serves config.wsgi: on the same
two cores it answered next-task, the busiest endpoint, 11-18% faster than gunicorn's gthread
workers in alternating runs (its HTTP parsing and connection handling cost no Python CPU:
1.3-1.7 against 1.6-2.4 ms of the web processes' CPU per claim; benchmarks/README.md, issue
16). Request bodies reach Django as a stream (chunked uploads included), a worker that dies
is started again, and on SIGTERM or SIGINT each worker finishes its requests within
`kill_timeout_s`."""

from __future__ import annotations

import sys

THREADS = 4  # WSGI threads per worker process: requests in progress at once in each


def web_server_argv(
    *,
    host: str,
    port: int,
    workers: int,
    threads: int = THREADS,
    access_log: bool = False,
    kill_timeout_s: int = 10,
) -> list[str]:
    argv = [
        sys.executable, "-m", "granian",
        "--interface", "wsgi", "config.wsgi:application",
        "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        # HTTP/1.1 with keep-alive; TLS and HTTP/2 belong to the proxy in front.
        "--http", "1", "--no-ws",
        "--respawn-failed-workers", "--workers-kill-timeout", str(kill_timeout_s),
        "--log-level", "info" if access_log else "warning",
    ]  # fmt: skip
    if access_log:
        argv.append("--access-log")
    return argv
