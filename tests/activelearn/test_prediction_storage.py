"""The predictions table without per-row foreign keys (migration 0016): an insert naming a
task or version that does not exist is refused, deleting a task, an asset, a project or a
version leaves no prediction behind, and a write racing a task deletion leaves no orphan
whichever comes first (real PostgreSQL, two connections)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection, connections, transaction

from activelearn.models import ModelVersion, Prediction
from activelearn.predictions.push import _BatchWriter, predictions_push, predictions_write
from annotate.models import AnnotationTask, Membership, Project
from annotate.services.projects import asset_delete
from tests.activelearn.test_predictions_push import make_assets


def _version(project, name: str = "v1") -> ModelVersion:
    return ModelVersion.objects.create(project=project, name=name, kind="pushed")


def _orphans() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM activelearn_prediction p WHERE NOT EXISTS "
            "(SELECT FROM annotate_annotationtask t WHERE t.id = p.task_id) OR NOT EXISTS "
            "(SELECT FROM activelearn_modelversion v WHERE v.id = p.model_version_id)"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_prediction_for_a_missing_task_or_version_is_refused(project):
    [asset] = make_assets(project, 1)
    task = asset.tasks.get()
    version = _version(project)
    missing_task = AnnotationTask.objects.order_by("-id").first().pk + 1000
    for rows, what in (
        ({(missing_task, version.pk): {"score": 0.5}}, "task"),
        ({(task.pk, version.pk + 1000): {"score": 0.5}}, "model version"),
        ({(missing_task, version.pk + 1000): {"score": 0.5}}, "task"),
    ):
        for fresh in (True, False):  # straight COPY, and staging with INSERT ... ON CONFLICT
            refused = pytest.raises(IntegrityError, match=f"names a {what} that does not exist")
            with refused, transaction.atomic():
                predictions_write(rows=rows, fresh=fresh)
    with pytest.raises(IntegrityError), transaction.atomic():
        Prediction.objects.create(task_id=missing_task, model_version=version, data={})
    assert not Prediction.objects.exists()
    predictions_write(rows={(task.pk, version.pk): {"score": 0.5}}, fresh=True)
    assert Prediction.objects.get().data == {"score": 0.5}


@pytest.mark.django_db
def test_deleting_tasks_assets_versions_and_projects_leaves_no_prediction(project, eve):
    assets = make_assets(project, 4)
    rows = [{"asset": a.pk, "model_version": name, "score": 0.1} for a in assets for name in "ab"]
    assert predictions_push(project=project, rows=rows, user=eve).stored == 8
    first, second = assets[0].tasks.get(), assets[1].tasks.get()
    first.delete()  # the collector
    assert not Prediction.objects.filter(task_id=first.pk).exists()
    AnnotationTask.objects.filter(pk=second.pk)._raw_delete(using="default")  # no collector
    assert not Prediction.objects.filter(task_id=second.pk).exists()
    asset_delete(asset=assets[2])
    assert Prediction.objects.count() == 2
    ModelVersion.objects.filter(project=project, name="a")._raw_delete(using="default")
    assert list(Prediction.objects.values_list("model_version__name", flat=True)) == ["b"]
    Project.objects.filter(pk=project.pk).delete()
    assert not Prediction.objects.exists()
    assert _orphans() == 0


def _wait_until_blocked(pid: int) -> None:
    """Until the backend `pid` waits on a lock (the other side of the race is held)."""
    with connection.cursor() as cursor:
        for _ in range(500):
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited on a lock")


class _Side(threading.Thread):
    """One side of a race on its own connection: `work` inside a transaction that stays open
    until `release` is set (at most `hold` seconds); `pid` is its backend, `error` what it
    raised."""

    def __init__(self, work, release: threading.Event | None = None, hold: float = 10) -> None:
        super().__init__(daemon=True)
        self.work, self.release, self.hold = work, release, hold
        self.pid: int | None = None
        self.started_work = threading.Event()
        self.done = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    self.pid = cursor.fetchone()[0]
                self.started_work.set()
                self.work()
                self.done.set()
                if self.release is not None:
                    assert self.release.wait(self.hold)
        except Exception as error:  # noqa: BLE001 - reported to the test
            self.error = error
        finally:
            self.started_work.set()
            self.done.set()
            connections.close_all()


def _delete_during_an_open_write(task, version) -> None:
    """A write of one prediction for `task`, left open; a delete of the task, which must wait
    for it; then the write commits and the delete goes through. Neither may fail."""
    release = threading.Event()
    writer = _Side(
        lambda: predictions_write(rows={(task.pk, version.pk): {"score": 0.5}}, fresh=True),
        release,
    )
    writer.start()
    assert writer.done.wait(10) and writer.error is None  # written, not committed
    deleter = _Side(lambda: AnnotationTask.objects.get(pk=task.pk).delete())
    deleter.start()
    assert deleter.started_work.wait(10)
    _wait_until_blocked(deleter.pid)  # the delete waits for the write's transaction
    release.set()
    writer.join(10)
    deleter.join(10)
    assert writer.error is None and deleter.error is None


@pytest.mark.django_db(transaction=True)
def test_a_task_deleted_while_a_write_is_open_takes_its_predictions_along(project):
    [asset] = make_assets(project, 1)
    task = asset.tasks.get()
    version = _version(project)
    _delete_during_an_open_write(task, version)
    assert not AnnotationTask.objects.filter(pk=task.pk).exists()
    assert not Prediction.objects.exists()
    assert _orphans() == 0


@pytest.mark.django_db(transaction=True)
def test_a_write_naming_a_task_of_another_project_holds_up_that_projects_deletions(
    project, other_project
):
    """The check locks the versions' projects first, and the tasks' own projects when a task
    is in none of them (migration 0018): a delete there waits for the write too."""
    task = make_assets(other_project, 1)[0].tasks.get()
    version = _version(project)
    _delete_during_an_open_write(task, version)
    assert not Prediction.objects.exists()
    assert _orphans() == 0


@pytest.mark.django_db(transaction=True)
def test_a_write_after_a_task_deletion_began_is_refused(project, eve):
    assets = make_assets(project, 2)
    task = assets[0].tasks.get()
    version = _version(project)
    release = threading.Event()
    deleter = _Side(lambda: AnnotationTask.objects.get(pk=task.pk).delete(), release)
    deleter.start()
    assert deleter.done.wait(10) and deleter.error is None  # deleted, not committed
    writer = _Side(
        lambda: predictions_write(rows={(task.pk, version.pk): {"score": 0.5}}, fresh=True)
    )
    writer.start()
    assert writer.started_work.wait(10)
    _wait_until_blocked(writer.pid)  # the write waits for the delete's transaction
    release.set()
    deleter.join(10)
    writer.join(10)
    assert deleter.error is None
    assert isinstance(writer.error, IntegrityError)
    assert "names a task that does not exist" in str(writer.error)
    assert not Prediction.objects.exists()
    assert _orphans() == 0
    # The push itself: the deleted task's asset is no longer found, the other row is stored.
    rows = [{"asset": a.pk, "model_version": "v1", "score": 0.5} for a in assets]
    result = predictions_push(project=project, rows=rows, user=eve)
    assert (result.stored, result.error_count) == (1, 1)
    assert _orphans() == 0


@pytest.mark.django_db(transaction=True)
def test_a_deletion_holds_up_the_writes_of_its_own_project_only(project, other_project, eve):
    gone, kept = (a.tasks.get() for a in make_assets(project, 2))
    version = _version(project)
    elsewhere = make_assets(other_project, 2)
    other_version = _version(other_project)
    release = threading.Event()
    # Held open past the other project's writes below, whatever they wait for.
    deleter = _Side(lambda: AnnotationTask.objects.get(pk=gone.pk).delete(), release, hold=60)
    deleter.start()
    assert deleter.done.wait(10) and deleter.error is None  # deleted, not committed
    try:
        # Another project: not held up (a wait on the lock would fail the write after 10 s).
        other_task = elsewhere[0].tasks.get()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '10s'")
            rows = {(other_task.pk, other_version.pk): {"score": 0.5}}
            assert predictions_write(rows=rows, fresh=True) == 1
        Membership.objects.create(project=other_project, user=eve, role=Membership.Role.ML_ENGINEER)
        rows = [{"asset": a.pk, "model_version": "v2", "score": 0.5} for a in elsewhere]
        pusher = _Side(lambda: predictions_push(project=other_project, rows=rows, user=eve))
        pusher.start()
        assert pusher.done.wait(20) and pusher.error is None
        pusher.join(10)
        # The same project, another task of it: held up until the deletion commits.
        writer = _Side(
            lambda: predictions_write(rows={(kept.pk, version.pk): {"score": 0.5}}, fresh=True)
        )
        writer.start()
        assert writer.started_work.wait(10)
        _wait_until_blocked(writer.pid)
        assert not writer.done.is_set()
    finally:
        release.set()  # also when a step above failed: the deletion ends
    deleter.join(10)
    writer.join(10)
    assert deleter.error is None and writer.error is None
    assert Prediction.objects.filter(task__project=other_project).count() == 3
    assert list(Prediction.objects.filter(task__project=project).values_list("task_id")) == [
        (kept.pk,)
    ]
    assert _orphans() == 0


@pytest.mark.django_db
def test_the_push_writer_stores_a_batch_whose_task_was_deleted_after_its_lookup(project):
    assets = make_assets(project, 2)
    kept, gone = (a.tasks.get() for a in assets)
    version = _version(project)
    rows = {(kept.pk, version.pk): {"score": 0.1}, (gone.pk, version.pk): {"score": 0.2}}
    gone.delete()
    assert _BatchWriter._write(rows, {}) == 1
    assert list(Prediction.objects.values_list("task_id", "data")) == [(kept.pk, {"score": 0.1})]


@pytest.mark.django_db
def test_a_version_name_of_another_type_is_refused_row_by_row(project, eve):
    first, second = make_assets(project, 2)
    rows = [
        {"asset": first.pk, "model_version": ["v1"], "score": 0.1},  # unhashable
        {"asset": second.pk, "model_version": "v1", "score": 0.2},
        {"asset": first.pk, "model_version": " ", "score": 0.3},
    ]
    result = predictions_push(project=project, rows=rows, user=eve)
    assert result.stored == 1
    assert [(e["row"], e["error"]) for e in result.errors] == [
        (1, "give model_version (a version name)"),
        (3, "give model_version (a version name)"),
    ]
