"""Queue order: the priorities that activelearn computes, in a narrow table of their own.

activelearn never touches leases or task states; this is the one service it calls to put
its scores to work. The claim (annotate.queue.sql) orders by these priorities.

Storage (migration 0024_queue_storage): `annotate_queue` (task, generation, project,
priority, queued, audit), partitioned by generation; QueueGeneration says which generation
a project's claims read (none: generation 0, where every project starts). Triggers on the
task table keep one row per task in that generation and its `queued` flag (pending, not
gold, not drawn for the audit), so the claim's index holds only the tasks it may hand out
and never steps over taken ones; a task row never carries its priority, so a re-rank never
rewrites task rows.

Two writes:
- `priorities_write_bulk` (a re-rank of some tasks: a scoring chunk, 10,000 changed tasks)
  updates the current generation in place, one statement per chunk (its arrays sent in
  binary, annotate.prepared); every generation leaves 10% of each page free, so a row's new
  version stays on its page (QUEUE_FILLFACTOR);
- `priorities_replace` (a re-rank of the whole project) reads the current generation out
  with one binary COPY, merges the new priorities in numpy, COPYs the result into a fresh
  table, indexes it once loaded (an index built after the load costs a fraction of one kept up
  row by row, benchmarks/README.md), attaches it as the next generation and moves the
  pointer, in one short transaction. Claims read whichever generation the pointer named
  when their statement started; nothing they do waits for a lock a re-rank holds.

The triggers: new and deleted tasks (statement triggers, one write per statement), and a
row trigger for a task whose state, gold or audit mark changed (its WHEN is checked without
calling it, so other updates cost nothing; a claim pays one lookup and one narrow write).
A bulk writer (the audit's draw) sets BULK_SQL for its transaction and brings its rows in
line itself, in one statement (`queue_rows_sync`).

Claims never wait for the rows a re-rank holds locked either: the trigger skips a locked
queue row and logs the task in `annotate_queue_change`, and the writer applies the log
once it commits (`queue_changes_apply`; a periodic sweep, `queue_changes_sweep`, applies
what a writer that died left). While a generation is being built the triggers log every
change, and the swap applies them to the new generation.

Tasks drawn for the random audit are left alone: annotate.queue.audit parks their priority
below every score, and re-ranks keep it there.
"""

from __future__ import annotations

import logging
import math
import operator
import struct
import time
from collections.abc import Callable, Iterable

import numpy as np
from django.db import connection, transaction

from annotate import prepared
from annotate.models import AnnotationTask, Project

logger = logging.getLogger(__name__)

# Rows per UPDATE of an in-place re-rank: fewer, larger statements; each chunk commits on
# its own (unless called inside a transaction).
PRIORITY_CHUNK = 50_000
TASK = AnnotationTask._meta.db_table
QUEUE = "annotate_queue"
CHANGES = "annotate_queue_change"
GENERATION = "annotate_queue_generation"
# pg_advisory_lock(class, project): in-place writers share it, a full re-rank holds it alone,
# so no in-place write lands in a generation that is being replaced. Claims never take it.
LOCK_CLASS = 0x71756575  # "queu"
# Free space COPY leaves on each page of a new generation (percent filled). Priority is in
# the claim's index, so a re-ranked row is never a HOT update; but on a page with room its
# new version stays on the page, where on a full one (COPY fills pages to 100%) PostgreSQL
# first WAL-logs a lock of the old version, then writes the new one on another page.
# 10% holds about 12 new versions per page (an in-place re-rank of 10,000 of 1,000,000
# tasks writes about one), and it is where PostgreSQL prunes a page's dead versions.
QUEUE_FILLFACTOR = 90
# How long a swap waits for transactions that may still write the old generation.
WRITERS_WAIT_S = 30.0
# For a transaction that updates many task rows in one statement (the audit's draw): the
# task table's row trigger (migration 0024) stays quiet, and the writer brings the queue
# rows in line itself, one statement for all of them (queue_rows_sync).
BULK_SQL = "SET LOCAL annotate.queue_bulk = 'on'"
QUEUED_SQL = (
    "(t.state = 'pending' AND NOT t.is_gold AND t.gold_of_id IS NULL AND t.audit_drawn_at IS NULL)"
)
# The generation of the queue's rows the project's claims read: for statements with named
# parameters (%(project)s) and with positional ones. A stable function (migration 0028), so
# that kept plans leave the other generations out before they start (partition pruning at
# executor start-up), where a sub-select's value comes too late for that.
CURRENT_GEN_NAMED = "annotate_queue_gen(%(project)s)"
CURRENT_GEN_SQL = CURRENT_GEN_NAMED.replace("%(project)s", "%s")


def _project_id(project: Project | int) -> int:
    return project.pk if isinstance(project, Project) else int(project)


def current_gen(cursor, project_id: int) -> int:
    """The generation the project's claims read now."""
    cursor.execute(f"SELECT {CURRENT_GEN_SQL}", [project_id])
    return int(cursor.fetchone()[0])


def _finite(values: list[float]) -> None:
    if not all(map(math.isfinite, values)):
        raise ValueError("priorities must be finite numbers")


def _ints(ids: Iterable) -> list[int]:
    """Ids as ints; a float is refused (the binary cast to bigint would round it)."""
    return [operator.index(task_id) for task_id in ids]


def priorities_set(
    cursor, *, project_id: int, ids: list[int], values: list[float], audit_too: bool = False
) -> int:
    """One UPDATE of the current generation's rows: the given tasks' priorities. Audit tasks
    are left alone unless `audit_too` (annotate.queue.audit parks and releases them). Rows
    whose priority does not change are not written. Returns rows changed. The caller holds
    the project's lock (LOCK_CLASS, shared), so the generation cannot change meanwhile: the
    statement names its partition."""
    _finite(values)
    gen = current_gen(cursor, project_id)
    return prepared.execute_binary(
        cursor,
        f"UPDATE {QUEUE}_g{gen} AS q SET priority = v.priority"  # noqa: S608
        " FROM unnest(%b::bigint[], %b::double precision[]) AS v(id, priority)"
        " WHERE q.task_id = v.id AND q.gen = %b AND q.project_id = %b"
        " AND q.priority IS DISTINCT FROM v.priority" + ("" if audit_too else " AND NOT q.audit"),
        [_ints(ids), [float(value) for value in values], gen, project_id],
    )


def queue_rows_set(cursor, *, project_id: int, ids: list[int], values: list[float]) -> int:
    """For a bulk writer (BULK_SQL) that changed these tasks' audit marks: their queue rows'
    priorities and, from the task rows, their queued and audit flags, in one UPDATE. The
    caller holds the project's lock (LOCK_CLASS, shared). Returns rows written."""
    _finite(values)
    gen = current_gen(cursor, project_id)
    return prepared.execute_binary(
        cursor,
        f"UPDATE {QUEUE}_g{gen} AS q SET priority = v.priority, queued = {QUEUED_SQL},"  # noqa: S608
        " audit = t.audit_drawn_at IS NOT NULL"
        " FROM unnest(%b::bigint[], %b::double precision[]) AS v(id, priority)"
        f" JOIN {TASK} t ON t.id = v.id"
        " WHERE q.task_id = v.id AND q.gen = %b AND q.project_id = %b",
        [_ints(ids), [float(value) for value in values], gen, project_id],
    )


def priorities_write_bulk(
    *, project: Project | int, priorities: Iterable[tuple[int, float]], chunk_size: int = 0
) -> int:
    """Set many tasks' priorities in place: one UPDATE statement per chunk, never a query
    per row. Rows whose priority does not change are not written, so the cost follows the
    change. Tasks of other projects, and audit tasks (parked: see the module), are left
    alone. Each chunk commits on its own (unless called inside a transaction); a full
    re-rank of the project under way is waited for. Returns rows changed."""
    project_id = _project_id(project)
    changed = 0
    for chunk in chunk_iter(priorities, chunk_size or PRIORITY_CHUNK):
        # In task order: the primary key is probed in order, and two writers lock rows in
        # the same order.
        chunk.sort(key=lambda pair: pair[0])
        ids = [int(task_id) for task_id, _ in chunk]
        values = [float(priority) for _, priority in chunk]
        _finite(values)
        with transaction.atomic(), connection.cursor() as cursor:
            # Each row found by one probe of the primary key (a hash join reads the whole
            # generation, 1,000,000 rows, to change 10,000 of them), for this transaction.
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, %s),"
                " set_config('enable_hashjoin', 'off', true),"
                " set_config('enable_mergejoin', 'off', true)",
                [LOCK_CLASS, project_id],
            )
            changed += priorities_set(cursor, project_id=project_id, ids=ids, values=values)
    # What claims could not write meanwhile (rows these chunks held locked), once committed.
    transaction.on_commit(lambda: queue_changes_apply(project=project_id))
    return changed


def chunk_iter(items: Iterable, size: int):
    """Lists of `size` items (the last one shorter)."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def priority_of(task_id: int) -> float:
    """The task's priority in its project's queue (0.0 when it has no row)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT priority FROM annotate_queue_current WHERE task_id = %s", [task_id])
        row = cursor.fetchone()
    return 0.0 if row is None else row[0]


# --- the log of changes the triggers could not write ---------------------------------------


def _apply(cursor, *, project_id: int, gen: int, ids: list[int], old_gen: int | None) -> None:
    """Bring the rows of `ids` in generation `gen` in line with their tasks: rows of tasks
    made while it was built (from `old_gen`, keeping their priority), the queued and audit
    flags read from the task rows, rows of deleted tasks removed."""
    if old_gen is not None and old_gen != gen:
        cursor.execute(
            f"INSERT INTO {QUEUE} (task_id, gen, project_id, priority, queued, audit)"  # noqa: S608
            " SELECT o.task_id, %s, o.project_id, o.priority, o.queued, o.audit"
            f" FROM {QUEUE} o WHERE o.gen = %s AND o.task_id = ANY(%s)"
            " ON CONFLICT (task_id, gen) DO NOTHING",
            [gen, old_gen, ids],
        )
    cursor.execute(
        f"INSERT INTO {QUEUE} (task_id, gen, project_id, priority, queued, audit)"  # noqa: S608
        f" SELECT t.id, %s, t.project_id, 0, {QUEUED_SQL}, t.audit_drawn_at IS NOT NULL"
        f" FROM {TASK} t WHERE t.id = ANY(%s) AND t.project_id = %s"
        " ON CONFLICT (task_id, gen) DO NOTHING",
        [gen, ids, project_id],
    )
    cursor.execute(
        f"UPDATE {QUEUE} q SET queued = {QUEUED_SQL}, audit = t.audit_drawn_at IS NOT NULL"  # noqa: S608
        f" FROM {TASK} t WHERE q.gen = %s AND q.task_id = ANY(%s) AND t.id = q.task_id"
        f" AND (q.queued, q.audit) IS DISTINCT FROM ({QUEUED_SQL}, t.audit_drawn_at IS NOT NULL)",
        [gen, ids],
    )
    cursor.execute(
        f"DELETE FROM {QUEUE} q WHERE q.gen = %s AND q.task_id = ANY(%s)"  # noqa: S608
        f" AND NOT EXISTS (SELECT 1 FROM {TASK} t WHERE t.id = q.task_id)",
        [gen, ids],
    )


def queue_rows_sync(cursor, *, project_id: int, ids: list[int]) -> None:
    """Bring the queue rows of `ids` in line with their task rows (queued and audit flags):
    what the row trigger does for one task, done in one statement per step for a bulk
    writer (BULK_SQL). The caller holds the project's lock (LOCK_CLASS, shared), so no full
    re-rank is building a generation meanwhile."""
    if not ids:
        return
    gen = current_gen(cursor, project_id)
    _apply(cursor, project_id=project_id, gen=gen, ids=sorted(ids), old_gen=None)


def queue_changes_apply(*, project: Project | int, old_gen: int | None = None) -> int:
    """Apply the changes the triggers logged for the project (rows they found locked, or
    changes made while a generation was built) to its current generation. Returns how many
    tasks were brought in line."""
    project_id = _project_id(project)
    total = 0
    for _ in range(10):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {CHANGES} WHERE project_id = %s RETURNING task_id",  # noqa: S608
                [project_id],
            )
            ids = sorted({row[0] for row in cursor.fetchall()})
            if not ids:
                break
            gen = current_gen(cursor, project_id)
            _apply(cursor, project_id=project_id, gen=gen, ids=ids, old_gen=old_gen)
            total += len(ids)
    return total


def queue_changes_sweep() -> int:
    """Periodic (config/celery.py): apply what the triggers logged for every project whose
    writer did not (it died before its commit hook ran, or a claim met a row an in-place
    re-rank held locked after the re-rank's own catch-up). A project a full re-rank is
    rebuilding is left to that re-rank (its swap applies the log to the new generation).
    Returns how many tasks were brought in line; repeating it is harmless."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT project_id FROM {CHANGES}")  # noqa: S608
        projects = [row[0] for row in cursor.fetchall()]
    total = 0
    for project_id in projects:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock_shared(%s, %s)", [LOCK_CLASS, project_id]
            )
            if not cursor.fetchone()[0]:
                continue  # a full re-rank holds the project
            cursor.execute(
                f"SELECT building FROM {GENERATION} WHERE project_id = %s",  # noqa: S608
                [project_id],
            )
            row = cursor.fetchone()
            if row is not None and row[0]:
                continue
            total += queue_changes_apply(project=project_id)
    return total


def _writers(cursor) -> set[tuple[int, object]]:
    cursor.execute(
        "SELECT pid, xact_start FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
    )
    return set(cursor.fetchall())


def _wait_for_writers(cursor, timeout: float = WRITERS_WAIT_S) -> bool:
    """Wait until every transaction of this database that had written something when
    called has ended (their triggers may have read the generation pointer before it
    changed). True when they all did within `timeout`."""
    waiting = _writers(cursor)
    deadline = time.monotonic() + timeout
    while waiting:
        if time.monotonic() > deadline:
            logger.warning(
                "queue swap: %d transactions still open after %.0f s", len(waiting), timeout
            )
            return False
        time.sleep(0.005)
        waiting &= _writers(cursor)
    return True


# --- a full re-rank: a fresh generation ----------------------------------------------------


# The header of COPY's binary format: signature, flags, header extension length.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
# One row of COPY's binary format: two fields, an 8-byte id and an 8-byte float, big-endian.
_ROW = np.dtype([("n", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("p_len", ">i4"), ("p", ">f8")])


def _copy_binary(cursor, table: str, ids: np.ndarray, values: np.ndarray) -> None:
    """COPY (task_id bigint, priority float8) rows in PostgreSQL's binary format, encoded
    by numpy in one pass."""
    rows = np.empty(len(ids), dtype=_ROW)
    rows["n"], rows["id_len"], rows["p_len"] = 2, 8, 8
    rows["id"], rows["p"] = ids, values
    _copy_in(cursor, f"{table} (task_id, priority)", rows)


def _copy_in(cursor, target: str, rows: np.ndarray) -> None:
    """One binary COPY into `target` (a table and its columns) of rows already laid out in
    COPY's binary format (a numpy record array): header, the rows in 4 MB writes, trailer."""
    data = rows.tobytes()
    with cursor.cursor.copy(f"COPY {target} FROM STDIN (FORMAT binary)") as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, len(data), 1 << 22):
            copy.write(data[start : start + (1 << 22)])
        copy.write(struct.pack("!h", -1))


# COPY's binary rows of (task_id bigint, priority float8, queued bool, audit bool).
_QUEUE_ROW = np.dtype(
    [("n", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("p_len", ">i4"), ("p", ">f8"),
     ("q_len", ">i4"), ("q", "?"), ("a_len", ">i4"), ("a", "?")]
)  # fmt: skip


def _copy_out(cursor, *, project_id: int, gen: int) -> np.ndarray:
    """The project's rows of generation `gen` (task_id, priority, queued, audit), in heap
    order, read with one binary COPY into a numpy record array."""
    buffer = bytearray()
    with cursor.cursor.copy(
        f"COPY (SELECT task_id, priority, queued, audit FROM {QUEUE}_g{int(gen)}"  # noqa: S608
        f" WHERE project_id = {int(project_id)}) TO STDOUT (FORMAT binary)"
    ) as copy:
        for block in copy:
            buffer += block
    body = memoryview(buffer)[len(_COPY_HEADER) : len(buffer) - 2]  # less the -1 trailer
    return np.frombuffer(body, dtype=_QUEUE_ROW)


def _merged(old: np.ndarray, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The old generation's rows with the given priorities (audit rows keep theirs)."""
    rows = old.copy()
    if len(ids) and len(rows):
        order = np.argsort(ids, kind="stable")
        ids, values = ids[order], values[order]
        at = np.minimum(np.searchsorted(ids, rows["id"]), len(ids) - 1)
        given = (ids[at] == rows["id"]) & ~rows["a"]
        rows["p"] = np.where(given, values[at], rows["p"])
    return rows


def _copy_generation(cursor, table: str, rows: np.ndarray) -> int:
    """Write the rows into the new generation's table with one binary COPY (its gen and
    project_id are the table's defaults). Returns the rows written."""
    _copy_in(cursor, f"{table} (task_id, priority, queued, audit)", rows)
    return len(rows)


def _arrays(rows: Iterable[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Ids and priorities as arrays, one row per task (the last one given wins)."""
    unique = dict(rows)
    ids = np.fromiter(unique.keys(), dtype=np.int64, count=len(unique))
    values = np.fromiter(unique.values(), dtype=np.float64, count=len(unique))
    if not np.isfinite(values).all():
        raise ValueError("priorities must be finite numbers")
    return ids, values


def priorities_replace(
    *,
    project: Project | int,
    priorities: Iterable[tuple[int, float]],
    still_current: Callable[[], bool] | None = None,
    pause=None,
) -> int | None:
    """A re-rank of the whole project: the given tasks' priorities (the others of the
    project keep theirs; audit tasks and other projects' tasks are left alone), written as
    a fresh generation of the project's queue and swapped in (see the module). Must run
    outside a transaction.

    `still_current()` is asked inside the swap's transaction, before the new generation
    goes in: False (the order it computed was superseded meanwhile) drops the built
    generation and leaves the queue as it is. What it locks there (a run's row, say) stays
    locked until the swap commits, so whatever supersedes it writes after the swap.
    `pause(step)`, for tests, is called inside the build ("build") and the swap ("swap")
    transactions. Returns the rows of the new generation; None when not current."""
    if connection.in_atomic_block:
        raise RuntimeError("priorities_replace runs its own transactions: call it outside one")
    project_id = _project_id(project)
    rows = _arrays(priorities)
    build = _Build(project_id, still_current or (lambda: True), pause or (lambda step: None))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, project_id])
        try:
            return build.run(cursor, rows)
        except BaseException:
            build.abandon(cursor)
            raise
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, project_id])


class _Steps:
    """Seconds per step of a full re-rank, logged at INFO (benchmarks/queue.py prints them)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.took: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.took[name] = round(now - self.last, 3)
        self.last = now


class _Build:
    """One full re-rank of a project: build a generation, swap it in, drop the old one."""

    def __init__(self, project_id: int, still_current: Callable[[], bool], pause) -> None:
        self.project_id, self.still_current, self.pause = project_id, still_current, pause
        # The built table while it is not (yet) the project's generation.
        self.unattached: str | None = None

    def abandon(self, cursor) -> None:
        """After a failure or a superseded order: the built table goes, the triggers stop
        logging, and what they logged meanwhile goes to the generation that stays."""
        if self.unattached is not None:
            cursor.execute(f"DROP TABLE IF EXISTS {self.unattached}")
            self.unattached = None
        cursor.execute(
            f"UPDATE {GENERATION} SET building = false WHERE project_id = %s",  # noqa: S608
            [self.project_id],
        )
        queue_changes_apply(project=self.project_id)

    def run(self, cursor, rows: tuple[np.ndarray, np.ndarray]) -> int | None:
        project_id, pause, step = self.project_id, self.pause, _Steps()
        # From here on the triggers log every change of the project's tasks.
        cursor.execute(
            f"INSERT INTO {GENERATION} (project_id, gen, building) VALUES (%s, 0, true)"  # noqa: S608
            " ON CONFLICT (project_id) DO UPDATE SET building = true RETURNING gen",
            [project_id],
        )
        old = cursor.fetchone()[0]
        _wait_for_writers(cursor)
        step("start")
        cursor.execute("SELECT nextval('annotate_queue_gen_seq')")
        new = cursor.fetchone()[0]
        table = f"annotate_queue_g{int(new)}"
        with transaction.atomic():
            # Memory for the index sorts (1,000,000 rows take about 50 MB): the default
            # spills them to temporary files. This transaction only.
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            # Every task of the project in the old generation (read out in one binary COPY),
            # its new priority where given (audit tasks keep their parked one), its flags as
            # the triggers kept them: merged by numpy and written with one binary COPY, where
            # an INSERT ... SELECT joining a staging table cost several times more
            # (benchmarks/README.md).
            old_rows = _copy_out(cursor, project_id=project_id, gen=int(old))
            step("read_old")
            cursor.execute(
                f"CREATE TABLE {table} (LIKE {QUEUE} INCLUDING DEFAULTS,"  # noqa: S608
                f" CONSTRAINT {table}_gen CHECK (gen = {int(new)}))"
                f" WITH (fillfactor = {QUEUE_FILLFACTOR})"
            )
            cursor.execute(
                f"ALTER TABLE {table} ALTER COLUMN gen SET DEFAULT {int(new)},"
                f" ALTER COLUMN project_id SET DEFAULT {int(project_id)}"
            )
            count = _copy_generation(cursor, table, _merged(old_rows, *rows))
            step("copy")
            cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (task_id, gen)")
            step("primary_key")
            cursor.execute(
                f"CREATE INDEX {table}_order ON {table} (project_id, priority DESC, task_id)"
                " WHERE queued"
            )
            step("order_index")
            cursor.execute(f"ANALYZE {table}")
            pause("build")
        self.unattached = table
        step("analyze")
        with transaction.atomic():
            current = self.still_current()
            if current:
                self._swap(cursor, table, old=old, new=new)
        if not current:
            logger.info("queue replace of project %s: superseded, not swapped", project_id)
            self.abandon(cursor)
            return None
        self.unattached = None
        step("swap")
        # Transactions whose triggers read the old pointer have ended: what they logged goes
        # into the new generation too.
        _wait_for_writers(cursor)
        queue_changes_apply(project=project_id, old_gen=old)
        step("catch_up")
        _drop_generation(cursor, project_id, old)
        step("drop_old")
        logger.info("queue replace of project %s: %s", project_id, step.took)
        return count

    def _swap(self, cursor, table: str, *, old: int, new: int) -> None:
        """Inside the swap's transaction: the built table becomes generation `new`, what the
        triggers logged meanwhile is applied to it, and the pointer moves."""
        project_id = self.project_id
        # SHARE UPDATE EXCLUSIVE on the parent: claims (ACCESS SHARE, ROW EXCLUSIVE) go on.
        cursor.execute(f"ALTER TABLE {QUEUE} ATTACH PARTITION {table} FOR VALUES IN ({int(new)})")
        self.pause("swap")
        cursor.execute(
            f"DELETE FROM {CHANGES} WHERE project_id = %s RETURNING task_id",  # noqa: S608
            [project_id],
        )
        ids = sorted({row[0] for row in cursor.fetchall()})
        if ids:
            _apply(cursor, project_id=project_id, gen=new, ids=ids, old_gen=old)
        cursor.execute(
            f"UPDATE {GENERATION} SET gen = %s, building = false WHERE project_id = %s",  # noqa: S608
            [new, project_id],
        )


def _drop_generation(cursor, project_id: int, gen: int) -> None:
    """The old generation, once no claim reads it: a whole partition is detached (waiting
    for the statements that read it, blocking none) and dropped; the project's rows of the
    shared generation 0 are deleted."""
    if gen == 0:
        cursor.execute(f"DELETE FROM {QUEUE}_g0 WHERE project_id = %s", [project_id])  # noqa: S608
        return
    cursor.execute(f"ALTER TABLE {QUEUE} DETACH PARTITION {QUEUE}_g{int(gen)} CONCURRENTLY")
    cursor.execute(f"DROP TABLE {QUEUE}_g{int(gen)}")
