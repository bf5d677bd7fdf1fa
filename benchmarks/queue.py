"""Queue benchmark on PostgreSQL: bulk re-ranking and next-task over HTTP.

    .venv/bin/python benchmarks/queue.py [--tasks 1000000]

Creates its own database (bench_queue, dropped at the end unless --keep) on the server of
DATABASE_URL (default: the embedded PostgreSQL), fills it with N pending
image tasks (INSERT ... SELECT generate_series), then measures:

- rerank_all_s: new priorities for all N tasks through
  annotate.queue.priorities.priorities_replace (COPY into a fresh generation of the queue's
  own table, indexed after the load and swapped in), as a scoring run's pool pass writes a
  pool of 50,000 tasks or more (settings.SCORING_POOL_SWAP_MIN); the second one:
  the first also moves the project out of the shared generation 0 (rerank_first_s);
  --in-place-all also times the alternative, all of them in place in one transaction;
- copy_limit_s: the raw limit in the same run, COPY of the same rows (binary, encoded the
  same way) into an empty narrow table; rerank_ratio = rerank_all_s / copy_limit_s;
- rerank_10k_s: new priorities for 10,000 random tasks inside that queue, in place
  (priorities_write_bulk: one UPDATE per chunk of 50,000), by a new connection as a scoring
  worker writes them. Whether its pages go whole into the WAL first (full-page images: the
  first change of a page after a checkpoint begins) is timing; --rerank-checkpoint makes it
  the case every time (production's, a checkpoint every 5 minutes), and --rerank-repeat N
  reports the median of N such writes of different tasks;
- assign_per_s: POST /api/projects/<id>/tasks/next/ against the web server as serve starts it
  (config.webserver: granian, 2 workers of 4 threads) on loopback (DEBUG=0, token auth), 32
  clients in a closed loop with keep-alive connections, all on one event loop. Each request
  is made
  by an annotator who holds nothing yet, so every 200 is one new lease (an annotator asking
  again would just get their held task back);
- next_p99_ms: the same endpoint at a steady open-loop 100 requests/s; latency counts from
  the scheduled send time, so a slow server cannot hide its queueing;
- next_p99_ms_rerank: the same open loop while a full re-rank runs beside it;
- double_assignments: tasks handed to two clients, plus tasks with more than one active lease
  or whose lease row and task row disagree, checked in the database afterwards. Must be 0;
- audit_draw_s: one batch's random audit draw over the whole queue
  (annotate.queue.audit.audit_draw at the default share, 10%), done before the HTTP phases,
  so their claims take audit tasks at that share as a project's claims do.

Bounded: each HTTP phase runs at most --seconds (default 10), loopback only.
"""

from __future__ import annotations

import os
import sys

_FOLDER = os.path.dirname(os.path.realpath(__file__))
if __name__ == "queue":
    # A script run from benchmarks/ has this folder first on sys.path, so an `import queue`
    # anywhere (psycopg, concurrent.futures, kombu) lands here: hand over the real module.
    import importlib

    _saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != _FOLDER]
    del sys.modules["queue"]
    try:
        sys.modules["queue"] = importlib.import_module("queue")
    finally:
        sys.path[:] = _saved
else:
    # Run as a script: this file must not shadow the standard library's queue for itself.
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != _FOLDER]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# BENCH_QUEUE_DB: another name, so two runs on one server do not drop each other's database.
DB_NAME = os.environ.get("BENCH_QUEUE_DB", "bench_queue")
CLIENTS = 32
OPEN_LOOP_RATE = 100
RERANK_CHANGED = 10_000


def _server_url() -> str:
    """DATABASE_URL, or the embedded PostgreSQL's (started for this run) when it is unset."""
    from annotate.embedded.postgres import ensure_database_url

    return ensure_database_url()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def create_database(base_url: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database(base_url: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def fill(tasks: int, users: int, money_limit: str | None) -> tuple[int, list[str]]:
    """A project with `tasks` pending image tasks, a budget (no limit unless `money_limit`),
    and `users` annotators with tokens. Returns (project id, tokens)."""
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from annotate.models import Asset, Budget, Membership, Project

    project = Project.objects.create(name="bench")
    # With a limit, every claim also takes its turn on the project's budget ledger row.
    Budget.objects.create(
        project=project, money_limit=Decimal(money_limit) if money_limit else None
    )
    assets = max(1, tasks // 100)
    first_asset = Asset.objects.bulk_create(
        [
            Asset(project=project, kind="image", file=f"bench/{i}.jpg", sha256=f"{i:064x}",
                  content_type="image/jpeg", width=640, height=480, state="ready")
            for i in range(assets)
        ],
        batch_size=5000,
    )[0].pk  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotate_annotationtask (project_id, asset_id, kind, frame_count, state,"
            " skip_reason, points_by_hand, points_prefilled, boxes_by_hand, boxes_prefilled,"
            " is_gold, created_at, updated_at)"
            " SELECT %s, %s + (g %% %s), 'image', 1, 'pending', '', 0, 0, 0, 0, false,"
            " now(), now()"
            " FROM generate_series(1, %s) AS g",
            [project.pk, first_asset, assets, tasks],
        )
        # The queue's rows (made by the trigger at 0.0) at random priorities.
        cursor.execute(
            "UPDATE annotate_queue SET priority = random() WHERE gen = 0 AND project_id = %s",
            [project.pk],
        )
        cursor.execute(
            "INSERT INTO auth_user (username, password, first_name, last_name, email,"
            " is_staff, is_active, is_superuser, date_joined)"
            " SELECT 'bench' || g, '!', '', '', '', false, true, false, now()"
            " FROM generate_series(1, %s) AS g",
            [users],
        )
    bench_users = list(User.objects.filter(username__startswith="bench").order_by("id"))
    Membership.objects.bulk_create(
        [Membership(project=project, user=user, role="annotator") for user in bench_users],
        batch_size=5000,
    )
    tokens = [Token(key=secrets.token_hex(20), user=user) for user in bench_users]
    Token.objects.bulk_create(tokens, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return project.pk, [token.key for token in tokens]


def small_project(tasks: int) -> int:
    """A second project of `tasks` pending tasks, for the save latency at a small pool."""
    from django.db import connection

    from annotate.models import Asset, Budget, Project

    project = Project.objects.create(name="bench small")
    Budget.objects.create(project=project)
    assets = max(1, tasks // 100)
    first_asset = Asset.objects.bulk_create(
        [
            Asset(project=project, kind="image", file=f"bench/small/{i}.jpg",
                  sha256=f"{i + 10**12:064x}", content_type="image/jpeg", width=640,
                  height=480, state="ready")
            for i in range(assets)
        ],
        batch_size=5000,
    )[0].pk  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotate_annotationtask (project_id, asset_id, kind, frame_count, state,"
            " skip_reason, points_by_hand, points_prefilled, boxes_by_hand, boxes_prefilled,"
            " is_gold, created_at, updated_at)"
            " SELECT %s, %s + (g %% %s), 'image', 1, 'pending', '', 0, 0, 0, 0, false,"
            " now(), now()"
            " FROM generate_series(1, %s) AS g",
            [project.pk, first_asset, assets, tasks],
        )
        # The queue's rows (made by the trigger at 0.0) at random priorities.
        cursor.execute(
            "UPDATE annotate_queue SET priority = random() WHERE gen = 0 AND project_id = %s",
            [project.pk],
        )
    return project.pk


def new_priorities(project_id: int, count: int | None, seed: int) -> list[tuple[int, float]]:
    """Random new priorities for all the project's tasks (count None) or `count` of them
    drawn at random, in task order."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM annotate_annotationtask WHERE project_id = %s ORDER BY id",
            [project_id],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if count is not None:
        ids = sorted(random.Random(1 + seed).sample(ids, count))
    rng = random.Random(len(ids) + seed)
    return [(task_id, rng.random()) for task_id in ids]


def rerank(
    project_id: int, count: int | None, writers: int, chunk: int, seed: int = 0
) -> tuple[float, int, float]:
    """New priorities for all tasks (count None: one full re-rank, priorities_replace, a
    fresh generation of the queue swapped in) or `count` random ones (in place, written
    through priorities_write_bulk by `writers` threads with their own connections, the way
    the scoring workers write their chunks side by side). Returns (seconds, rows written,
    CPU seconds of the writers' database backends)."""
    from django.db import connection, connections

    from annotate.queue.priorities import PRIORITY_CHUNK, priorities_replace, priorities_write_bulk

    priorities = new_priorities(project_id, count, seed)
    if count is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        before = process_cpu(pid)
        started = time.perf_counter()
        rows = priorities_replace(project=project_id, priorities=priorities)
        took = time.perf_counter() - started
        return took, rows, process_cpu(pid) - before
    chunk = chunk or PRIORITY_CHUNK
    chunks = [priorities[i : i + chunk] for i in range(0, len(priorities), chunk)]
    shares = [[pair for chunk in chunks[w::writers] for pair in chunk] for w in range(writers)]
    changed = [0] * writers
    backend_cpu = [0.0] * writers

    def write(w: int) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            before = process_cpu(pid)
            changed[w] = priorities_write_bulk(
                project=project_id, priorities=shares[w], chunk_size=chunk
            )
            backend_cpu[w] = process_cpu(pid) - before
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(changed), sum(backend_cpu)


def rerank_all_in_place(project_id: int) -> float:
    """New priorities for all tasks written in place in one transaction, as a pool pass
    smaller than settings.SCORING_POOL_SWAP_MIN writes them: the alternative the
    swap is chosen over for a large pool. Seconds."""
    from django.db import transaction

    from annotate.queue.priorities import priorities_write_bulk

    priorities = new_priorities(project_id, None, seed=7)
    started = time.perf_counter()
    with transaction.atomic():
        priorities_write_bulk(project=project_id, priorities=priorities)
    return time.perf_counter() - started


def audit_claims(task_ids: list[int]) -> float:
    """The share of the handed-out tasks that were audit ones."""
    from django.db import connection

    if not task_ids:
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM annotate_annotationtask"
            " WHERE id = ANY(%s) AND audit_drawn_at IS NOT NULL",
            [list(set(task_ids))],
        )
        return cursor.fetchone()[0] / len(set(task_ids))


def server_env(database_url: str) -> dict[str, str]:
    """The production settings a server on loopback runs with here (DEBUG off, persistent
    database connections), on `database_url`."""
    return {
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "STATIC_MANIFEST": "0",
        "DB_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
    }


class Server:
    def __init__(self, database_url: str, workers: int, threads: int) -> None:
        self.port = free_port()
        env = {**os.environ, **server_env(database_url)}
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "bench_queue_web.log", "w")  # noqa: SIM115
        from config.webserver import web_server_argv

        self.process = subprocess.Popen(
            web_server_argv(host="127.0.0.1", port=self.port, workers=workers, threads=threads),
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the web server exited; see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/schema/")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the web server did not answer")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


class Tokens:
    """Hands each request an annotator who has not asked yet."""

    def __init__(self, tokens: list[str]) -> None:
        self._tokens = iter(tokens)
        self._lock = threading.Lock()

    def take(self) -> str | None:
        with self._lock:
            return next(self._tokens, None)


def next_task(conn: http.client.HTTPConnection, project_id: int, token: str) -> tuple[int, dict]:
    conn.request(
        "POST",
        f"/api/projects/{project_id}/tasks/next/",
        body=b"{}",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


class _Claimer(asyncio.Protocol):
    """One keep-alive connection of the closed loop: a request, its answer, the next one.
    The request's bytes are built once per token and the answer is read by its
    Content-Length, so the client's own CPU per claim stays a small part of the machine's
    (32 threads with http.client cost the same two cores about 0.3 ms per claim)."""

    def __init__(self, head: bytes, tokens: Tokens, stop_at: float, done: asyncio.Future):
        self.head, self.tokens, self.stop_at, self.done = head, tokens, stop_at, done
        self.buffer = b""
        self.finished = False
        self.assigned: list[int] = []
        self.failures: list[int] = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        token = None if time.perf_counter() >= self.stop_at else self.tokens.take()
        if token is None:
            self.finished = True
            self.transport.close()
            return
        self.transport.write(self.head % token.encode())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end_of_head = self.buffer.find(b"\r\n\r\n")
        if end_of_head < 0:
            return
        head = self.buffer[:end_of_head]
        length = _CONTENT_LENGTH.search(head)
        if length is None:
            raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
        end = end_of_head + 4 + int(length.group(1))
        if len(self.buffer) < end:
            return
        status, body = int(head[9:12]), self.buffer[end_of_head + 4 : end]
        self.buffer = self.buffer[end:]
        task = json.loads(body).get("task") if status == 200 else None
        if task:
            self.assigned.append(task["id"])
        else:
            self.failures.append(status)
        self._send()

    def connection_lost(self, exc) -> None:
        if not self.finished:  # the server closed it: counted, as http.client would raise
            self.failures.append(0)
        if not self.done.done():
            self.done.set_result(None)


_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)")


def closed_loop(port: int, project_id: int, tokens: Tokens, seconds: float) -> dict:
    """CLIENTS keep-alive connections, each sending its next request as soon as the answer
    to the last one is in, for `seconds`; one thread, one event loop."""
    head = (
        f"POST /api/projects/{project_id}/tasks/next/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Token %s\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}"
    ).encode()

    async def run() -> tuple[list[_Claimer], float]:
        loop = asyncio.get_running_loop()
        stop_at = time.perf_counter() + seconds
        started = time.perf_counter()
        claimers, waits = [], []
        for _ in range(CLIENTS):
            done = loop.create_future()
            _, claimer = await loop.create_connection(
                lambda done=done: _Claimer(head, tokens, stop_at, done), "127.0.0.1", port
            )
            claimers.append(claimer)
            waits.append(done)
        await asyncio.wait_for(asyncio.gather(*waits), timeout=seconds + 60)
        return claimers, time.perf_counter() - started

    claimers, elapsed = asyncio.run(run())
    assigned = [pk for claimer in claimers for pk in claimer.assigned]
    failures = [status for claimer in claimers for status in claimer.failures]
    return {"assigned": assigned, "failures": failures, "elapsed": elapsed}


def open_loop(port: int, project_id: int, tokens: Tokens, seconds: float) -> dict:
    """Requests scheduled every 1/rate s; a pool of connections sends them. Latency is from
    the scheduled time to the end of the response."""
    total = int(seconds * OPEN_LOOP_RATE)
    start = time.perf_counter() + 0.2
    schedule = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    assigned: list[int] = []
    failures: list[int] = []

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(schedule, None)
            if i is None:
                break
            due = start + i / OPEN_LOOP_RATE
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            token = tokens.take()
            if token is None:
                break
            status, body = next_task(conn, project_id, token)
            done = time.perf_counter()
            with lock:
                latencies.append((done - due) * 1000)
                if status == 200 and body.get("task"):
                    assigned.append(body["task"]["id"])
                else:
                    failures.append(status)
        conn.close()

    # Enough senders that one slow answer never delays the next scheduled send.
    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "assigned": assigned, "failures": failures}


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of a process, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time used so far by the web server's processes and the bench database's backends (read
    from /proc), so the cost of an assignment can be told apart from a busy machine."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"web": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parent, cpu = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if parent == server_pid or int(entry.name) == server_pid:
            used["web"] += cpu
        elif cmdline.startswith("postgres:") and f" {DB_NAME} " in cmdline:
            used["postgres"] += cpu
    return used


# Leases the warm-up takes before the lease table is analyzed and the claims are timed.
# Plans kept by the server's connections follow the statistics: made for a table of a few
# hundred leases, they read the table whole on each claim (a sequential scan is the cheaper
# plan for a few pages), so the claims would cost more the more of them the run takes. A
# running installation's table is at most twice what its statistics say (the periodic
# annotate.queue.upkeep.lease_analyze), and from about a thousand leases on the plans use
# the indexes (benchmarks/README.md, 2026-12-02).
WARM_LEASES = 2_000


def analyze_leases() -> None:
    """ANALYZE the lease table once the warm-up's claims are in, as autovacuum or the
    periodic lease_analyze does within a minute of a project's first claims. The fill's
    VACUUM ANALYZE found it empty, and statistics of an empty table say its indexes hold
    nothing whatever their size: kept plans then read every active lease on each claim (the
    user's held count through the expiry index), a state no running project is in
    (benchmarks/README.md, 2026-12-02)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE activelearn_tasklease")
    connection.close()


def database_doubles(project_id: int) -> dict:
    from django.db import connection

    queries = {
        "tasks_with_two_active_leases": (
            "SELECT count(*) FROM (SELECT l.task_id FROM activelearn_tasklease l"
            " JOIN annotate_annotationtask t ON t.id = l.task_id WHERE t.project_id = %s"
            " AND l.state = 'active' GROUP BY l.task_id HAVING count(*) > 1) AS d"
        ),
        "lease_rows_disagreeing_with_task": (
            "SELECT count(*) FROM activelearn_tasklease l JOIN annotate_annotationtask t"
            " ON t.id = l.task_id WHERE t.project_id = %s AND l.state = 'active'"
            " AND (t.lease_user_id IS DISTINCT FROM l.user_id OR t.state <> 'in_progress')"
        ),
        "active_leases": (
            "SELECT count(*) FROM activelearn_tasklease l JOIN annotate_annotationtask t"
            " ON t.id = l.task_id WHERE t.project_id = %s AND l.state = 'active'"
        ),
    }
    found = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql, [project_id])
            found[name] = cursor.fetchone()[0]
    return found


def wal_lsn() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        return cursor.fetchone()[0]


def wal_bytes(since: str) -> int:
    """Bytes of WAL the server has written since `since` (every database's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", [since])
        return int(cursor.fetchone()[0])


def pages_before_checkpoint(built_from: str, built_to: str) -> str:
    """Whether a checkpoint began after the generation's pages were written (between
    `built_from` and `built_to`): a page's first change after a checkpoint begins writes the
    whole page to the WAL, so an in-place re-rank of random rows then writes about 8 kB per
    page it touches (100 MB at 10,000 rows of 1,000,000) where it would write 3 MB. Which
    case a run meets is timing: the server begins a checkpoint every checkpoint_timeout or
    after max_wal_size / (1 + checkpoint_completion_target) of WAL (530 MB here; a full
    re-rank writes about 110 MB). "all", "part" or "none" of the pages."""
    from django.db import connection

    with connection.cursor() as cursor:
        try:
            cursor.execute(
                "SELECT redo_lsn >= %s::pg_lsn, redo_lsn > %s::pg_lsn FROM pg_control_checkpoint()",
                [built_to, built_from],
            )
        except Exception:  # noqa: BLE001 - pg_control_checkpoint is for superusers only
            return "unknown"
        every, some = cursor.fetchone()
    return "all" if every else "part" if some else "none"


def checkpoint() -> str | None:
    """Begin (and finish) a checkpoint now, so that the next in-place re-rank meets a
    full-page image for every page it touches, as a write long after its generation was built
    always does in production (a checkpoint every checkpoint_timeout); "all", or None when
    this role may not (superuser or pg_checkpoint only)."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:
        return None
    return "all (CHECKPOINT just before)"


def copy_limit(project_id: int) -> float:
    """The raw limit of a full rerank: COPY of the same (task id, priority) rows into an
    empty narrow table, in the same run, encoded the same way (binary). Seconds."""
    from django.db import connection

    from annotate.queue.priorities import _arrays, _copy_binary

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM annotate_annotationtask WHERE project_id = %s ORDER BY id",
            [project_id],
        )
        ids = [row[0] for row in cursor.fetchall()]
    rng = random.Random(2)  # the same kind of rows as the rerank writes
    rows = [(task_id, rng.random()) for task_id in ids]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_limit (task_id bigint, priority float8)")
        started = time.perf_counter()
        _copy_binary(cursor, "copy_limit", *_arrays(rows))
        took = time.perf_counter() - started
        cursor.execute("DROP TABLE copy_limit")
    return took


def loop_project(project_id: int) -> None:
    """The loop at its defaults on a project: two classes, an active pushed model version
    with class probabilities and an embedding for every task, default learning settings
    (a run after every 50 labels)."""
    from django.db import connection

    from activelearn.models import LearningSettings, ModelVersion
    from annotate.models import LabelClass

    LabelClass.objects.create(project_id=project_id, name="person", color="#e6194b")
    LabelClass.objects.create(project_id=project_id, name="bicycle", color="#3cb44b", order=1)
    LearningSettings.objects.get_or_create(project_id=project_id)
    version = ModelVersion.objects.create(
        project_id=project_id, name="bench", kind=ModelVersion.Kind.PUSHED, is_active=True,
        task_type=ModelVersion.TaskType.CLASSIFICATION,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO activelearn_prediction (task_id, model_version_id, data, created_at)"
            " SELECT id, %s, jsonb_build_object('probs', jsonb_build_array(p, 1 - p),"
            "   'embedding', jsonb_build_array(p, 1 - p, q, 1 - q)), now()"
            " FROM (SELECT id, round(random()::numeric, 4)::float8 AS p,"
            "       round(random()::numeric, 4)::float8 AS q"
            "       FROM annotate_annotationtask WHERE project_id = %s) AS t",
            [version.pk, project_id],
        )


class Worker:
    """A real Celery worker (one process) on a private queue, for the loop's runs."""

    def __init__(self, database_url: str) -> None:
        from django.conf import settings

        from config.celery import all_queues, app

        self.queue = f"bench-queue-{secrets.token_hex(4)}"
        app.conf.task_default_queue = self.queue
        # The loop's runs go to the queues per kind of work (settings WORK_QUEUE_OF_TASK):
        # this run's own, with its prefix, all of them taken by this one worker.
        settings.WORK_QUEUE_PREFIX = f"{self.queue}."
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_QUEUE": self.queue,
            "CELERY_QUEUE_PREFIX": settings.WORK_QUEUE_PREFIX,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(all_queues()),
             "-n", f"{self.queue}@%h", "--concurrency", "1", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while not app.control.ping(destination=[f"{self.queue}@{os.uname().nodename}"], timeout=1):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the Celery worker did not start")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}


def save_latencies(project_ids: list[int], labels: int, block: int = 10) -> dict[int, list[float]]:
    """An annotator labels `labels` tasks in each project, in alternating blocks so that
    both meet the same load: next task (not timed), save, submit (each timed, in process:
    the server's time). Returns {project: [ms of each save and submit]}."""
    from django.contrib.auth.models import User
    from django.test import Client

    from annotate.models import Membership

    clients = {}
    for project_id in project_ids:
        user = User.objects.create_user(f"bench-labeler-{project_id}")
        Membership.objects.create(project_id=project_id, user=user, role="annotator")
        client = Client()
        client.force_login(user)
        clients[project_id] = client
    times: dict[int, list[float]] = {project_id: [] for project_id in project_ids}
    for _ in range(0, labels, block):
        for project_id in project_ids:
            client = clients[project_id]
            for _ in range(block):
                answer = client.post(f"/api/projects/{project_id}/tasks/next/", secure=True)
                assert answer.status_code == 200, answer.content[:300]
                task_id = answer.json()["task"]["id"]
                body = {"base_version": None, "payload": {"boxes": [BOX]}}
                started = time.perf_counter()
                saved = client.put(
                    f"/api/tasks/{task_id}/annotation/", body,
                    content_type="application/json", secure=True,
                )  # fmt: skip
                times[project_id].append((time.perf_counter() - started) * 1000)
                assert saved.status_code in (200, 201), saved.content[:300]
                body["base_version"] = saved.json()["version"]
                started = time.perf_counter()
                submitted = client.post(
                    f"/api/tasks/{task_id}/submit/", body,
                    content_type="application/json", secure=True,
                )  # fmt: skip
                times[project_id].append((time.perf_counter() - started) * 1000)
                assert submitted.status_code == 200, submitted.content[:300]
    return times


def page_times(project_id: int, tasks: int) -> dict[str, float]:
    """Server time (in process, best of 3) of the pages a superuser opens on a big project,
    then of those its members open (member_pages)."""
    import base64

    from django.contrib.auth.models import User
    from django.test import Client

    from annotate.models import AnnotationTask

    admin = User.objects.create_superuser("bench-admin", password="x")  # noqa: S106
    client = Client()
    client.force_login(admin)
    # A cursor halfway through the project (the task list's `next` links carry the same):
    # its page costs what the first one does, where page N was an OFFSET of N x 50 rows.
    middle = (
        AnnotationTask.objects.filter(project_id=project_id)
        .order_by("id")
        .values_list("id", flat=True)[tasks // 2]
    )
    cursor = base64.b64encode(f"p={middle}".encode()).decode()
    tasks_admin = "/admin/annotate/annotationtask/"
    project_filter = f"project__id__exact={project_id}"
    pages = {
        "home": "/",
        "project": f"/projects/{project_id}/",
        "queue_page": f"/projects/{project_id}/model/",
        "queue_api": f"/api/projects/{project_id}/queue/",
        "queue_api_page_100": f"/api/projects/{project_id}/queue/?page=100",
        "task_list": f"/api/tasks/?project={project_id}",
        "task_list_pending": f"/api/tasks/?project={project_id}&state=pending",
        "task_list_newest": f"/api/tasks/?project={project_id}&ordering=-id",
        "task_list_deep": f"/api/tasks/?project={project_id}&cursor={cursor}",
        "admin_tasks": tasks_admin,
        "admin_tasks_filtered": f"{tasks_admin}?{project_filter}",
        "admin_tasks_pending": f"{tasks_admin}?{project_filter}&state__exact=pending",
        "admin_assets": "/admin/annotate/asset/",
        "admin_annotations": "/admin/annotate/annotation/",
    }
    from django.conf import settings
    from django.test import override_settings

    # The pages link static files by their manifest name, which needs collectstatic: the
    # plain storage links them unhashed, at the same cost.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    out = {}
    with override_settings(STORAGES=storages):
        for name, url in pages.items():
            out[name] = _best_of_3(client, url)
        for name, url, member in member_pages(project_id, tasks, tasks_admin, project_filter):
            out[name] = _best_of_3(member, url)
    return out


MEMBER_TASKS = 50  # tasks the annotator of member_pages labeled (and one they hold)


def member_pages(project_id: int, tasks: int, tasks_admin: str, project_filter: str) -> list[tuple]:
    """(name, url, client) of the pages members open: an annotator of the project, who sees
    only the tasks they labeled or hold (the permission table's "own"), a user who is an
    annotator here and a manager of another project, and the project's manager, a staff
    user whose admin shows the projects they manage (not a superuser)."""
    from datetime import timedelta

    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.utils import timezone

    from annotate.models import AnnotationTask, Membership, Project, TaskLease
    from annotate.roles import GROUP_PROJECT_MANAGER

    manager = User.objects.create_user("bench-manager", password="x", is_staff=True)  # noqa: S106
    manager.groups.add(Group.objects.get(name=GROUP_PROJECT_MANAGER))  # the admin's rights
    Membership.objects.create(project_id=project_id, user=manager, role="manager")
    annotator = User.objects.create_user("bench-annotator", password="x")  # noqa: S106
    Membership.objects.create(project_id=project_id, user=annotator, role="annotator")
    # Spread over the project, so no page finds them all at its start.
    project_tasks = AnnotationTask.objects.filter(project_id=project_id)
    first = project_tasks.order_by("id").values_list("id", flat=True)[0]
    step = max(1, tasks // (MEMBER_TASKS + 1))
    spread = [first + n * step for n in range(MEMBER_TASKS + 1)]
    ids = list(project_tasks.filter(pk__in=spread, state="pending").values_list("id", flat=True))
    now = timezone.now()
    AnnotationTask.objects.filter(pk__in=ids[:-1]).update(
        state="submitted", annotator=annotator, submitted_at=now
    )
    expires = now + timedelta(hours=1)
    AnnotationTask.objects.filter(pk=ids[-1]).update(
        state="in_progress", lease_user=annotator, lease_expires_at=expires
    )
    TaskLease.objects.create(task_id=ids[-1], user=annotator, expires_at=expires, claimed_at=now)
    # An annotator here and the manager of another project: two rules, one per project.
    two_roles = User.objects.create_user("bench-two-roles", password="x")  # noqa: S106
    Membership.objects.create(project_id=project_id, user=two_roles, role="annotator")
    other = Project.objects.create(name="bench-other")
    Membership.objects.create(project=other, user=two_roles, role="manager")
    AnnotationTask.objects.filter(pk__in=ids[: MEMBER_TASKS // 2]).update(annotator=two_roles)
    clients = {}
    for user in (manager, annotator, two_roles):
        clients[user] = Client()
        clients[user].force_login(user)
    task_list = f"/api/tasks/?project={project_id}"
    return [
        ("annotator_task_list", task_list, clients[annotator]),
        ("annotator_task_list_all", "/api/tasks/", clients[annotator]),
        ("annotator_task_list_pending", f"{task_list}&state=pending", clients[annotator]),
        ("annotator_project", f"/projects/{project_id}/", clients[annotator]),
        ("annotator_assets", f"/api/assets/?project={project_id}", clients[annotator]),
        ("two_roles_task_list", task_list, clients[two_roles]),
        ("two_roles_task_list_all", "/api/tasks/", clients[two_roles]),
        ("manager_task_list", task_list, clients[manager]),
        ("manager_task_list_newest", f"{task_list}&ordering=-id", clients[manager]),
        ("manager_project", f"/projects/{project_id}/", clients[manager]),
        ("manager_queue_page", f"/projects/{project_id}/model/", clients[manager]),
        ("manager_queue_api", f"/api/projects/{project_id}/queue/", clients[manager]),
        ("manager_assets", f"/api/assets/?project={project_id}", clients[manager]),
        ("manager_admin_tasks", tasks_admin, clients[manager]),
        ("manager_admin_tasks_filtered", f"{tasks_admin}?{project_filter}", clients[manager]),
        ("manager_admin_assets", "/admin/annotate/asset/", clients[manager]),
        ("manager_admin_annotations", "/admin/annotate/annotation/", clients[manager]),
    ]


def pages_only(project_id: int, tasks: int) -> None:
    """--pages-only: the manager pages on the filled project, the rest of the run skipped."""
    with open("/proc/loadavg") as loadavg:
        load_before = loadavg.read().split()[0]
    pages = page_times(project_id, tasks)
    with open("/proc/loadavg") as loadavg:
        load_after = loadavg.read().split()[0]
    width = max(len(name) for name in pages)
    for name, ms in pages.items():
        print(f"page {name.ljust(width)}  {ms:.0f} ms")
    print(f"load average (1 min) before / after: {load_before} / {load_after}")
    print(" ".join(f"page_{name}_ms={ms:.0f}" for name, ms in pages.items()), end=" ")
    print(f"page_ms_max={max(pages.values()):.0f}")


def _best_of_3(client, url: str) -> float:
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        response = client.get(url, secure=True)
        best = min(best, (time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per HTTP phase")
    parser.add_argument("--workers", type=int, default=2, help="web server worker processes")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per web server worker (serve's: 4)"
    )
    parser.add_argument("--writers", type=int, default=2, help="connections writing the rerank")
    parser.add_argument(
        "--money-limit", help="give the budget a money limit (far from reached), e.g. 1e9"
    )
    parser.add_argument("--chunk", type=int, default=0, help="rows per UPDATE in the rerank")
    parser.add_argument(
        "--server-side-binding",
        action="store_true",
        help="the web server's database connections bind parameters on the server (prepared)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench_queue database")
    parser.add_argument(
        "--labels", type=int, default=150, help="labels per project in the save phase"
    )
    parser.add_argument("--small-tasks", type=int, default=10_000, help="the small project")
    parser.add_argument(
        "--pages-only", action="store_true", help="fill, then measure the manager pages only"
    )
    parser.add_argument("--rerank-only", action="store_true", help="stop after the re-rank figures")
    parser.add_argument(
        "--rerank-repeat",
        type=int,
        default=1,
        help="in-place re-ranks of 10,000 tasks (different ones each), the median reported",
    )
    parser.add_argument(
        "--in-place-all",
        action="store_true",
        help="also time all tasks' priorities written in place in one transaction",
    )
    parser.add_argument(
        "--rerank-checkpoint",
        action="store_true",
        help="a CHECKPOINT before each in-place re-rank: it meets full-page images throughout",
    )
    args = parser.parse_args()

    base_url = _server_url()
    database_url = with_database(base_url, DB_NAME)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DB_CONN_MAX_AGE"] = "600"
    os.environ["ALLOWED_HOSTS"] = "testserver"  # the in-process phases (saves, pages)
    create_database(base_url)
    server = None
    try:
        import django

        django.setup()
        import logging

        # The full re-rank's steps (seconds each), printed with the figures.
        steps = logging.getLogger("annotate.queue.priorities")
        steps.setLevel(logging.INFO)
        steps.addHandler(logging.StreamHandler(sys.stdout))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        # Every HTTP request uses a fresh annotator; bounded by the phases' length.
        users = (
            WARM_LEASES + int(args.seconds * 1500) + 2 * int(args.seconds * OPEN_LOOP_RATE) + 100
        )
        started = time.perf_counter()
        project_id, token_list = fill(args.tasks, users, args.money_limit)
        fill_s = time.perf_counter() - started
        print(f"filled {args.tasks} tasks and {users} annotators in {fill_s:.1f} s", flush=True)
        if args.pages_only:
            pages_only(project_id, args.tasks)
            return

        # The first full re-rank also moves the project out of the queue's shared
        # generation 0 (deleting its rows there); the second is the steady state.
        rerank_first_s, _, _ = rerank(project_id, None, args.writers, args.chunk, seed=1)
        print(f"rerank all, the first: {rerank_first_s:.2f} s", flush=True)
        built_from = wal_lsn()
        rerank_all_s, changed_all, rerank_cpu_s = rerank(project_id, None, args.writers, args.chunk)
        built_to = wal_lsn()
        print(
            f"rerank all: {changed_all} rows in {rerank_all_s:.2f} s"
            f" ({rerank_cpu_s:.1f} s of database CPU)",
            flush=True,
        )
        copy_limit_s = copy_limit(project_id)
        print(
            f"raw limit: COPY of {args.tasks} (id, priority) rows: {copy_limit_s:.2f} s", flush=True
        )
        from django.db import connection

        with connection.cursor() as cursor:
            # What autovacuum does soon after a rewrite of the whole queue; not timed.
            cursor.execute("VACUUM ANALYZE annotate_annotationtask")
            cursor.execute("VACUUM ANALYZE annotate_queue")
        changed_count = min(RERANK_CHANGED, args.tasks)
        times_10k = []
        for repeat in range(args.rerank_repeat):
            if repeat:
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM annotate_queue")  # the last write's dead versions
            fpi = pages_before_checkpoint(built_from, built_to)
            if repeat:
                fpi += ", but the earlier writes met them first for the pages they touched"
            if args.rerank_checkpoint:
                fpi = checkpoint() or fpi
            write_from = wal_lsn()
            took, changed_10k, write_cpu_s = rerank(
                project_id, changed_count, 1, args.chunk, seed=repeat
            )
            wal_mb = wal_bytes(write_from) / 1e6
            if pages_before_checkpoint(write_from, write_from) == "all":
                fpi += "; a checkpoint began during the write"
            times_10k.append(took)
            print(
                f"rerank {changed_count}: {changed_10k} rows in {took:.3f} s"
                f" ({write_cpu_s:.2f} s of database CPU, {wal_mb:.0f} MB of WAL on the server"
                " meanwhile, other databases' included; pages of the generation last written"
                f" before a checkpoint began, each then a full-page image in the WAL: {fpi})",
                flush=True,
            )
        rerank_10k_s = sorted(times_10k)[len(times_10k) // 2]
        in_place = ""
        if args.in_place_all:
            took = rerank_all_in_place(project_id)
            print(f"rerank all in place, one transaction: {took:.2f} s", flush=True)
            in_place = f" rerank_all_in_place_s={took:.2f}"
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE annotate_queue")  # its dead versions, untimed
        if args.rerank_only:
            with open("/proc/loadavg") as loadavg:
                load = loadavg.read().split()[0]
            print(
                f"rerank_all_s={rerank_all_s:.2f} rerank_10k_s={rerank_10k_s:.3f} "
                f"rerank_10k_runs={','.join(f'{t:.3f}' for t in times_10k)} "
                f"rerank_first_s={rerank_first_s:.2f} copy_limit_s={copy_limit_s:.2f} "
                f"rerank_ratio={rerank_all_s / copy_limit_s:.1f} rerank_cpu_s={rerank_cpu_s:.1f} "
                f"load={load}{in_place}"
            )
            return

        from annotate.queue.audit import audit_draw

        started = time.perf_counter()
        drawn = audit_draw(project_id=project_id, seed=1)
        audit_draw_s = time.perf_counter() - started
        print(f"audit draw: {drawn.drawn} of {drawn.pool} in {audit_draw_s:.2f} s", flush=True)

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE annotate_annotationtask")
        connection.close()

        server_url = database_url
        if args.server_side_binding:
            # dj-database-url hands query parameters to OPTIONS: psycopg then binds on the
            # server and prepares statements it sees repeatedly (planned once, not per call).
            server_url += "?server_side_binding=true"
        server = Server(server_url, args.workers, args.threads)
        tokens = Tokens(token_list)
        warm = closed_loop(server.port, project_id, tokens, 1.0)  # connections and imports
        while len(warm["assigned"]) < WARM_LEASES:  # a lease table of a project under way
            more = closed_loop(server.port, project_id, tokens, 1.0)
            warm = {key: warm[key] + more[key] for key in ("assigned", "failures")}
            if not more["assigned"]:
                raise SystemExit(f"the warm-up's claims stopped: {more['failures'][:5]}")
        analyze_leases()
        cpu_before, client_before = cpu_seconds(server.process.pid), time.process_time()
        closed = closed_loop(server.port, project_id, tokens, args.seconds)
        cpu_after, client_after = cpu_seconds(server.process.pid), time.process_time()
        assign_per_s = len(closed["assigned"]) / closed["elapsed"]
        per_assignment_ms = {
            name: (cpu_after[name] - cpu_before[name]) * 1000 / max(1, len(closed["assigned"]))
            for name in cpu_after
        }
        per_assignment_ms["client"] = (
            (client_after - client_before) * 1000 / max(1, len(closed["assigned"]))
        )
        with open("/proc/loadavg") as loadavg:
            load = loadavg.read().split()[0]
        print(
            f"closed loop: {len(closed['assigned'])} assignments in {closed['elapsed']:.1f} s"
            f" ({len(closed['failures'])} failures)",
            flush=True,
        )
        opened = open_loop(server.port, project_id, tokens, args.seconds)
        p50 = percentile(opened["latencies"], 0.50)
        p99 = percentile(opened["latencies"], 0.99)
        print(
            f"open loop: {len(opened['latencies'])} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            f" ({len(opened['failures'])} failures)",
            flush=True,
        )
        # The same open loop while a full re-rank of the whole queue runs: claims must not
        # wait behind it (annotate.queue.priorities).
        during_rerank: dict = {}

        def rerank_meanwhile() -> None:
            from django.db import connections

            try:
                during_rerank["s"] = rerank(project_id, None, 1, args.chunk, seed=2)[0]
            finally:
                connections.close_all()

        rerank_thread = threading.Thread(target=rerank_meanwhile)
        rerank_thread.start()
        opened_rerank = open_loop(server.port, project_id, tokens, args.seconds)
        rerank_thread.join()
        p99_rerank = percentile(opened_rerank["latencies"], 0.99)
        print(
            f"open loop during a full rerank ({during_rerank.get('s', float('nan')):.2f} s):"
            f" {len(opened_rerank['latencies'])} requests,"
            f" p50 {percentile(opened_rerank['latencies'], 0.5):.1f} ms, p99 {p99_rerank:.1f} ms"
            f" ({len(opened_rerank['failures'])} failures)",
            flush=True,
        )
        server.stop()
        server = None

        handed_http = (
            warm["assigned"] + closed["assigned"] + opened["assigned"] + opened_rerank["assigned"]
        )
        found = database_doubles(project_id)  # before the save phase adds its own claims

        # The loop at its defaults on the big project and on a small one, a real worker
        # running the rescoring runs that the labels start.
        small_id = small_project(args.small_tasks)
        for pid in (project_id, small_id):
            loop_project(pid)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        connection.close()
        worker = Worker(database_url)
        try:
            saves = save_latencies([project_id, small_id], args.labels)
        finally:
            worker.stop()
        from activelearn.models import ScoringRun

        loop_runs = {
            pid: list(
                ScoringRun.objects.filter(project_id=pid, reason="labels").values_list(
                    "state", "tasks_scored", "error"
                )
            )
            for pid in (project_id, small_id)
        }
        print(f"runs after labels (state, tasks scored): {loop_runs}", flush=True)
        save_big = percentile(saves[project_id], 0.5)
        save_small = percentile(saves[small_id], 0.5)
        pages = page_times(project_id, args.tasks)
        page_ms_max = max(pages.values())

        handed = handed_http
        client_doubles = len(handed) - len(set(handed))
        double_assignments = (
            client_doubles
            + found["tasks_with_two_active_leases"]
            + found["lease_rows_disagreeing_with_task"]
        )
        failures = (
            warm["failures"] + closed["failures"] + opened["failures"] + opened_rerank["failures"]
        )
        audit_claimed = audit_claims(handed)

        rows = [
            ("tasks in the queue", f"{args.tasks:,}"),
            ("rerank all, the first (s)", f"{rerank_first_s:.2f}"),
            ("rerank all (s)", f"{rerank_all_s:.2f}  (goal <= 5)"),
            ("raw limit: COPY of the same rows (s)", f"{copy_limit_s:.2f}"),
            ("rerank all: database backends' CPU (s)", f"{rerank_cpu_s:.1f}"),
            (f"rerank {changed_count:,} changed (s)", f"{rerank_10k_s:.3f}  (goal <= 0.2)"),
            (f"next task, {CLIENTS} clients closed (/s)", f"{assign_per_s:.0f}  (goal >= 1000)"),
            (f"next task, open loop {OPEN_LOOP_RATE} req/s p50 (ms)", f"{p50:.1f}"),
            (f"next task, open loop {OPEN_LOOP_RATE} req/s p99 (ms)", f"{p99:.1f}  (goal <= 20)"),
            ("the same during a full rerank, p99 (ms)", f"{p99_rerank:.1f}"),
            (
                "CPU ms per assignment: web / postgres / client",
                " / ".join(f"{per_assignment_ms[k]:.1f}" for k in ("web", "postgres", "client")),  # noqa: E501
            ),
            (
                "assign/s these CPU costs allow on 2 idle cores",
                f"{2000 / max(0.001, sum(per_assignment_ms.values())):.0f}",
            ),
            ("load average (1 min) during the run", load),
            ("assignments made", f"{len(handed):,}"),
            ("active leases in the database", f"{found['active_leases']:,}"),
            ("failed requests", str(len(failures))),
            ("double assignments", f"{double_assignments}  (must be 0)"),
            ("audit draw over the queue (s)", f"{audit_draw_s:.2f}"),
            ("share of assignments that were audit tasks", f"{audit_claimed:.3f}  (share 0.1)"),
            (f"save/submit p50 at {args.tasks:,} tasks (ms)", f"{save_big:.1f}"),
            (f"save/submit p50 at {args.small_tasks:,} tasks (ms)", f"{save_small:.1f}"),
            *((f"page {name} (ms)", f"{ms:.0f}") for name, ms in pages.items()),
        ]  # fmt: skip
        width = max(len(name) for name, _ in rows)
        print()
        for name, value in rows:
            print(f"{name.ljust(width)}  {value}")
        big = "1m" if args.tasks == 1_000_000 else f"{args.tasks // 1000}k"
        small = f"{args.small_tasks // 1000}k"
        print(
            f"rerank_all_s={rerank_all_s:.2f} rerank_10k_s={rerank_10k_s:.3f} "
            f"assign_per_s={assign_per_s:.0f} next_p99_ms={p99:.1f} "
            f"next_p99_ms_rerank={p99_rerank:.1f} rerank_first_s={rerank_first_s:.2f} "
            f"doubles={double_assignments} copy_limit_s={copy_limit_s:.2f} "
            f"rerank_ratio={rerank_all_s / copy_limit_s:.1f} "
            f"save_p50_ms_{big}={save_big:.1f} save_p50_ms_{small}={save_small:.1f} "
            f"page_ms_max={page_ms_max:.0f} audit_draw_s={audit_draw_s:.2f}"
        )
    finally:
        if server is not None:
            server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(base_url)


if __name__ == "__main__":
    main()
