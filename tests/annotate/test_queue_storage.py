"""The queue's own table: a full re-rank swaps in a fresh generation, and claims never wait
behind a re-rank, whether it builds a generation or holds rows of the current one locked.
Real concurrent transactions on their own connections."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from annotate.models import AnnotationTask, QueueEntry, QueueGeneration, TaskLease
from annotate.queue import claim as claim_module
from annotate.queue.audit import AUDIT_PRIORITY, audit_draw
from annotate.queue.claim import task_claim_next
from annotate.queue.expiry import leases_expire
from annotate.queue.priorities import (
    BULK_SQL,
    CURRENT_GEN_SQL,
    QUEUE,
    QUEUE_FILLFACTOR,
    priorities_replace,
    priorities_write_bulk,
    queue_changes_sweep,
    queue_rows_sync,
)

from .queue_fixtures import make_annotators, make_tasks, queue_tables

pytestmark = pytest.mark.django_db(transaction=True)

# A claim that waited behind a re-rank would wait as long as the re-rank is held: seconds.
QUICK_S = 2.0


def queued(project) -> set[int]:
    return set(
        QueueEntry.objects.filter(project=project, queued=True).values_list("task_id", flat=True)
    )


def generations() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT gen FROM annotate_queue")
        return {row[0] for row in cursor.fetchall()}


class Held:
    """Runs `work(pause)` in a thread with its own connection; `pause(step)` blocks the
    thread at `step` (inside the transaction that step names) until released."""

    def __init__(self, work, at: str) -> None:
        self.at, self.reached, self.go = at, threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(work,))

    def pause(self, step: str) -> None:
        if step == self.at:
            self.reached.set()
            assert self.go.wait(30)

    def _run(self, work) -> None:
        try:
            self.result = work(self.pause)
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            self.error = err
            self.reached.set()
        finally:
            connections.close_all()

    def __enter__(self) -> Held:
        self.thread.start()
        assert self.reached.wait(30)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc) -> None:
        self.go.set()
        self.thread.join(60)
        assert self.error is None, self.error


@pytest.fixture(autouse=True)
def ranked_claims(monkeypatch):
    """Every claim's draw falls over the audit share: the ranked queue serves."""
    monkeypatch.setattr(claim_module, "audit_draw", lambda: 0.99)


def timed(function):
    started = time.monotonic()
    result = function()
    return result, time.monotonic() - started


def test_a_full_rerank_swaps_in_a_generation_in_the_new_order(project, other_project, alice):
    tasks = make_tasks(project, 30)  # priorities 30 down to 1
    (theirs,) = make_tasks(other_project, 1, priorities=[5.0])
    audit_draw(project_id=project.pk, seed=1, share=0.1)
    parked = dict(
        QueueEntry.objects.filter(project=project, audit=True).values_list("task_id", "priority")
    )
    assert len(parked) == 3
    rows = priorities_replace(
        project=project, priorities=[(t.pk, float(i)) for i, t in enumerate(tasks)]
    )
    assert rows == 30
    gen = QueueGeneration.objects.get(project=project).gen
    assert gen > 0 and generations() == {0, gen}  # the other project still reads 0
    stored = dict(QueueEntry.objects.filter(project=project).values_list("task_id", "priority"))
    for i, task in enumerate(tasks):
        assert stored[task.pk] == parked.get(task.pk, float(i))
    assert all(priority < AUDIT_PRIORITY for priority in parked.values())
    assert QueueEntry.objects.get(task_id=theirs.pk).priority == 5.0
    # The best task that is not an audit one: the last of the old order.
    best = next(t for t in reversed(tasks) if t.pk not in parked)
    assert task_claim_next(user=alice, project=project).task.pk == best.pk
    # A second full re-rank drops the first generation.
    priorities_replace(project=project, priorities=[(t.pk, 1.0) for t in tasks])
    again = QueueGeneration.objects.get(project=project).gen
    assert again > gen and generations() == {0, again}
    assert best.pk not in queued(project)


@pytest.mark.parametrize("step", ["build", "swap"])
def test_a_claim_never_waits_behind_a_full_rerank_and_its_changes_reach_the_new_generation(
    project, step
):
    tasks = make_tasks(project, 40)
    alice, carol = make_annotators(project, 2)
    given_back = task_claim_next(user=carol, project=project)
    assert given_back.task.pk == tasks[0].pk and given_back.task.pk not in queued(project)
    new_order = [(t.pk, float(i)) for i, t in enumerate(tasks)]  # reversed: the last is best

    def rerank(pause):
        return priorities_replace(project=project, priorities=new_order, pause=pause)

    with Held(rerank, at=step):
        # Inside the re-rank's open transaction: a claim goes on at once.
        lease, seconds = timed(lambda: task_claim_next(user=alice, project=project))
        assert seconds < QUICK_S, seconds
        assert lease.task.pk == tasks[1].pk  # the old order still serves
        # Meanwhile a lease expires (its task returns to the queue) and a task is made.
        TaskLease.objects.filter(pk=given_back.pk).update(expires_at=timezone.now())
        leases_expire()
        made = make_tasks(project, 1, priorities=[0.0])[0]
    assert QueueGeneration.objects.get(project=project).building is False
    now = queued(project)
    assert lease.task.pk not in now  # taken during the re-rank: not queued again
    assert given_back.task.pk in now and made.pk in now
    assert len(now) == 40
    # The new order serves.
    (bob,) = make_annotators(project, 1)
    assert task_claim_next(user=bob, project=project).task.pk == tasks[-1].pk


@pytest.mark.parametrize("rebuilt", [False, True], ids=["generation 0", "a rebuilt generation"])
def test_a_claim_never_waits_for_queue_rows_an_in_place_rerank_holds(project, alice, rebuilt):
    tasks = make_tasks(project, 20)
    if rebuilt:
        priorities_replace(project=project, priorities=[(t.pk, t.priority) for t in tasks])

    def rerank(pause):
        with transaction.atomic():
            priorities_write_bulk(project=project, priorities=[(t.pk, 0.5) for t in tasks])
            pause("held")  # every row of the queue locked by this open transaction

    with Held(rerank, at="held"):
        lease, seconds = timed(lambda: task_claim_next(user=alice, project=project))
        assert seconds < QUICK_S, seconds
        # Its row was locked: the trigger logged the change instead of waiting.
        assert lease.task.pk in queued(project)
    # The writer applied the log at its commit.
    assert lease.task.pk not in queued(project)
    assert len(queued(project)) == 19


@pytest.mark.parametrize("step", ["build", "swap"])
def test_a_full_rerank_that_fails_leaves_the_queue_as_it_was(project, alice, step):
    tasks = make_tasks(project, 5)
    tables = queue_tables()

    def fail(at):
        if at == step:
            raise RuntimeError("the re-rank's worker died")

    with pytest.raises(RuntimeError):
        priorities_replace(project=project, priorities=[(t.pk, 9.0) for t in tasks], pause=fail)
    pointer = QueueGeneration.objects.get(project=project)
    assert (pointer.gen, pointer.building) == (0, False) and generations() == {0}
    assert queue_tables() == tables  # no table of the failed build left behind
    assert task_claim_next(user=alice, project=project).task.pk == tasks[0].pk
    assert len(queued(project)) == 4


def test_a_full_rerank_no_longer_current_at_its_swap_leaves_the_queue_as_it_was(project, alice):
    tasks = make_tasks(project, 5)
    tables, asked, made = queue_tables(), [], []

    def still_current() -> bool:
        asked.append(connection.in_atomic_block)  # asked inside the swap's transaction
        made.append(make_tasks(project, 1, priorities=[0.5])[0])  # logged while building
        return False

    rows = priorities_replace(
        project=project, priorities=[(t.pk, 9.0) for t in tasks], still_current=still_current
    )
    assert rows is None and asked == [True]
    pointer = QueueGeneration.objects.get(project=project)
    assert (pointer.gen, pointer.building) == (0, False) and generations() == {0}
    assert queue_tables() == tables
    assert len(queued(project)) == 6 and made[0].pk in queued(project)
    assert task_claim_next(user=alice, project=project).task.pk == tasks[0].pk


def test_the_sweep_applies_changes_no_writer_applied(project, alice):
    tasks = make_tasks(project, 3)
    taken = task_claim_next(user=alice, project=project).task
    assert taken.pk not in queued(project)
    # As if a claim had met the row locked by a re-rank whose writer then died: the change is
    # in the log only, the queue row stale.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE annotate_queue SET queued = true WHERE task_id = %s", [taken.pk])
        cursor.execute(
            "INSERT INTO annotate_queue_change (project_id, task_id) VALUES (%s, %s)",
            [project.pk, taken.pk],
        )
    assert taken.pk in queued(project)
    assert queue_changes_sweep() == 1
    assert queued(project) == {t.pk for t in tasks} - {taken.pk}
    assert queue_changes_sweep() == 0


def test_one_task_changed_and_many_in_one_statement_keep_the_same_queue_rows(project):
    """The row trigger (one task changed) and a bulk writer (BULK_SQL, then
    queue_rows_sync for its rows) leave the same flags."""
    tasks = make_tasks(project, 4)
    first, second, *rest = (t.pk for t in tasks)
    AnnotationTask.objects.filter(pk=first).update(state="submitted")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BULK_SQL)
        AnnotationTask.objects.filter(pk=second).update(state="submitted")
        assert second in queued(project)  # the trigger stayed quiet: the writer's turn
        queue_rows_sync(cursor, project_id=project.pk, ids=[second])
    assert queued(project) == set(rest)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BULK_SQL)
        AnnotationTask.objects.filter(pk__in=[first, second]).update(state="pending")
        queue_rows_sync(cursor, project_id=project.pk, ids=[first, second])
    assert queued(project) == {t.pk for t in tasks}
    # Outside a bulk writer's transaction the trigger is back.
    AnnotationTask.objects.filter(pk__in=rest).update(is_gold=True)
    assert queued(project) == {first, second}


def _blocks(table: str, ids: list[int]) -> dict[int, int]:
    """The heap page of each task's row version that is current."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT task_id, (ctid::text::point)[0]::int FROM {table} WHERE task_id = ANY(%s)",  # noqa: S608
            [ids],
        )
        return dict(cursor.fetchall())


def _fillfactor(table: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT option_value FROM pg_class c, pg_options_to_table(c.reloptions)"
            " WHERE c.relname = %s AND option_name = 'fillfactor'",
            [table],
        )
        row = cursor.fetchone()
    return row and row[0]


def test_generations_leave_room_so_an_in_place_rerank_keeps_rows_on_their_page(project):
    assert _fillfactor("annotate_queue_g0") == str(QUEUE_FILLFACTOR)  # migration 0025
    tasks = make_tasks(project, 400)
    priorities_replace(project=project, priorities=[(t.pk, t.priority) for t in tasks])
    gen = QueueGeneration.objects.get(project=project).gen
    table = f"annotate_queue_g{gen}"
    assert _fillfactor(table) == str(QUEUE_FILLFACTOR)
    ids = [t.pk for t in tasks]
    before = _blocks(table, ids)
    assert len(set(before.values())) >= 4  # COPY filled several pages, not one
    # A few rows of every page (each holds about 110): their new versions fit in its room.
    changed = ids[::10]
    assert priorities_write_bulk(project=project, priorities=[(i, -1.0) for i in changed]) == 40
    after = _blocks(table, changed)
    assert after == {i: before[i] for i in changed}


def test_kept_plans_leave_other_generations_out_before_they_start(project, other_project, alice):
    """Every project re-ranked whole keeps a generation of its own. The claim's kept plan
    must not start a scan of each of them: the generation comes from a stable function,
    known when the statement starts, so PostgreSQL prunes the others first."""
    tasks = make_tasks(project, 5)
    make_tasks(other_project, 3)
    priorities_replace(project=other_project, priorities=[])  # its own generation
    priorities_replace(project=project, priorities=[(t.pk, 1.0) for t in tasks])
    with connection.cursor() as cursor:
        # Generation 0 and the two projects', and any earlier tests left (they empty the
        # tables, not the generations).
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", [QUEUE])
        others = cursor.fetchone()[0] - 1
        assert others >= 2
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(
            f"PREPARE gen_probe(bigint) AS SELECT count(*) FROM {QUEUE} q"
            f" WHERE q.gen = {CURRENT_GEN_SQL.replace('%s', '$1')} AND q.project_id = $1"
        )
        try:
            cursor.execute(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE gen_probe(%s)",
                [project.pk],
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("EXECUTE gen_probe(%s)", [project.pk])
            assert cursor.fetchone()[0] == 5
        finally:
            cursor.execute("DEALLOCATE gen_probe")
            cursor.execute("RESET plan_cache_mode")
    assert f"Subplans Removed: {others}" in plan, plan
    assert "never executed" not in plan, plan
    assert task_claim_next(user=alice, project=project).task.pk in {t.pk for t in tasks}
