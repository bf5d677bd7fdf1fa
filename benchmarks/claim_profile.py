"""Where one next-task request spends its server CPU: `python benchmarks/claim_profile.py`.

    .venv/bin/python benchmarks/claim_profile.py [--tasks 100000] [--claims 2000] [--profile]

The same database as benchmarks/queue.py (its `fill`: N pending image tasks, one annotator
with a token per claim) in a database of its own (bench_claim_profile, dropped at the end),
then POST /api/projects/<id>/tasks/next/ `--claims` times straight into the WSGI application
(config.wsgi, DEBUG=0, the production middleware and settings, token auth, keep-alive style:
one process, one persistent connection), each by an annotator who holds nothing yet, as the
benchmark's clients are. No HTTP server and no client in between, so the figures are the
server's own work: this process's CPU per claim (Python plus the driver), the PostgreSQL
backend's CPU per claim (from /proc), and the SQL statements one request sends (counted with
CaptureQueriesContext). `--profile` runs the timed claims under cProfile and prints the
functions with the most cumulative and internal CPU time (the CPU figures are then
inflated).

Last line: `server_cpu_ms_per_claim=<python + postgres> python_cpu_ms_per_claim=...
postgres_cpu_ms_per_claim=... statements_per_claim=...`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.util
import io
import os
import pstats
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_QUEUE_DB", "bench_claim_profile")

# benchmarks/queue.py, loaded under another name (as "queue" it would shadow the stdlib's).
_spec = importlib.util.spec_from_file_location("bench_queue", ROOT / "benchmarks" / "queue.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _environ(project_id: int, token: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/projects/{project_id}/tasks/next/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "HTTP_CONNECTION": "keep-alive",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def claim(application, project_id: int, token: str) -> tuple[str, bytes]:
    """One next-task request through the WSGI application: (status line, body)."""
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(line)

    response = application(_environ(project_id, token, b"{}"), start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()  # request_finished: what a WSGI server does after each response
    return status[0], body


def _by_package(stats: pstats.Stats) -> dict[str, float]:
    """Internal (own) time per top-level package: site-packages' first folder, the project's
    first folder, or "python" for the standard library and built-ins."""
    totals: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        if "site-packages/" in filename:
            package = filename.split("site-packages/")[1].split("/")[0]
        elif filename.startswith(str(ROOT)):
            package = "/".join(Path(filename).relative_to(ROOT).parts[:2])
        else:
            package = "python"
        totals[package] = totals.get(package, 0.0) + tottime
    return totals


class Sampler:
    """A sampling profiler on the process's CPU clock (ITIMER_PROF): every `interval` s of
    CPU, the running stack is counted. Unlike cProfile it adds almost nothing per call, so
    the many small calls of a request are not inflated against the few large ones."""

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.inclusive: dict[str, int] = {}
        self.exclusive: dict[str, int] = {}
        self.samples = 0

    @staticmethod
    def _name(frame) -> str:
        code = frame.f_code
        filename = code.co_filename
        if "site-packages/" in filename:
            filename = filename.split("site-packages/")[1]
        elif filename.startswith(str(ROOT)):
            filename = str(Path(filename).relative_to(ROOT))
        else:
            filename = Path(filename).name
        return f"{filename}:{code.co_name}"

    def _sample(self, _signum, frame) -> None:
        self.samples += 1
        seen = set()
        leaf = True
        while frame is not None:
            name = self._name(frame)
            if leaf:
                self.exclusive[name] = self.exclusive.get(name, 0) + 1
                leaf = False
            if name not in seen:
                seen.add(name)
                self.inclusive[name] = self.inclusive.get(name, 0) + 1
            frame = frame.f_back

    def __enter__(self) -> Sampler:
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        return self

    def __exit__(self, *exc) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)

    def report(self, top: int, per: float) -> str:
        """The top entries, inclusive and exclusive, in ms of CPU per claim."""
        lines = []
        for title, counts in (("inclusive", self.inclusive), ("exclusive", self.exclusive)):
            lines.append(f"sampled CPU, {title} (ms per claim; {self.samples} samples):")
            for name, count in sorted(counts.items(), key=lambda kv: -kv[1])[:top]:
                lines.append(f"  {count * self.interval * 1000 / per:7.3f}  {name}")
        return "\n".join(lines)


def backend_cpu_s(pid: int) -> float:
    return bench.process_cpu(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--warm", type=int, default=bench.WARM_LEASES, help="untimed claims first")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed claims")
    parser.add_argument(
        "--sample", action="store_true", help="a sampling profile of the timed claims"
    )
    parser.add_argument("--top", type=int, default=35, help="functions listed by --profile")
    parser.add_argument(
        "--partitions",
        type=int,
        default=0,
        help="other generations of the queue table attached first, as other projects'"
        " whole re-ranks leave them",
    )
    args = parser.parse_args()

    base_url = bench._server_url()
    database_url = bench.with_database(base_url, bench.DB_NAME)
    os.environ.update(
        {**bench.server_env(database_url), "DJANGO_SETTINGS_MODULE": "config.settings"}
    )
    bench.create_database(base_url)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        call_command("migrate", verbosity=0)
        project_id, tokens = bench.fill(args.tasks, args.warm + args.claims + 10, None)
        with connection.cursor() as cursor:
            for gen in range(1_000_000, 1_000_000 + args.partitions):
                cursor.execute(
                    f"CREATE TABLE annotate_queue_g{gen} PARTITION OF annotate_queue"
                    f" FOR VALUES IN ({gen})"
                )
            cursor.execute("ANALYZE")
        connection.close()

        from config.wsgi import application

        tokens = iter(tokens)
        for _ in range(args.warm):
            status, body = claim(application, project_id, next(tokens))
            assert status.startswith("200"), (status, body)
        bench.analyze_leases()  # as autovacuum would by now (bench.analyze_leases)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with CaptureQueriesContext(connection) as queries:
            status, body = claim(application, project_id, next(tokens))
        statements = [q["sql"] for q in queries.captured_queries]
        print(f"one request: {status}, {len(statements)} statements:")
        for sql in statements:
            print(f"  {' '.join(sql.split())[:140]}")
        print(f"  answer: {body.decode()}")

        # CPU time, not wall time: waiting for PostgreSQL is not this process's cost.
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        cpu0, db0, wall0 = time.process_time(), backend_cpu_s(pid), time.perf_counter()
        sampler = Sampler() if args.sample else contextlib.nullcontext()
        if profiler:
            profiler.enable()
        with sampler:
            for _ in range(args.claims):
                status, body = claim(application, project_id, next(tokens))
                if not status.startswith("200") or b'"task":null' in body:
                    raise SystemExit(f"unexpected answer: {status} {body[:200]!r}")
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - wall0
        python_ms = (time.process_time() - cpu0) * 1000 / args.claims
        postgres_ms = (backend_cpu_s(pid) - db0) * 1000 / args.claims
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] == pid, "the connection was replaced mid-run"
        connection.close()
        if profiler:
            stats = pstats.Stats(profiler)
            for order in ("cumulative", "tottime"):
                out = io.StringIO()
                stats.stream = out
                stats.sort_stats(order).print_stats(args.top)
                print(out.getvalue())
            print("internal CPU time by package (under cProfile):")
            for package, seconds in sorted(_by_package(stats).items(), key=lambda kv: -kv[1]):
                print(f"  {package:24s} {seconds * 1000 / args.claims:.3f} ms per claim")
        if args.sample:
            print(sampler.report(args.top, args.claims))
        with open("/proc/loadavg") as loadavg:
            load = loadavg.read().split()[0]
        print(
            f"{args.claims} claims on {args.tasks:,} tasks in {wall:.2f} s wall"
            f" ({args.claims / wall:.0f}/s serial), load {load}"
            + (" (under cProfile)" if profiler else "")
        )
        print(
            f"server_cpu_ms_per_claim={python_ms + postgres_ms:.3f}"
            f" python_cpu_ms_per_claim={python_ms:.3f}"
            f" postgres_cpu_ms_per_claim={postgres_ms:.3f}"
            f" statements_per_claim={len(statements)}"
        )
    finally:
        from django.db import connections

        connections.close_all()
        bench.drop_database(base_url)


if __name__ == "__main__":
    main()
