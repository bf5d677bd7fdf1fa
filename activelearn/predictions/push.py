"""Predictions pushed by an outside model: rows per asset (by id, external key or original file
name) with class probabilities, boxes, keypoints, an embedding or a ready score, tagged with a
model version name. Read as a stream in batches (activelearn.predictions.lines); each batch's
assets are looked up in one query per kind of key (one batch ahead), its rows checked
(activelearn.predictions.rows: the common shapes vectorized, every other row one by one, the
same rules and messages) and stored with COPY: straight into the table for a version that had
no predictions when the push began, through a staging table and one INSERT ... ON CONFLICT
otherwise, so a re-push of the same rows gives the same table.

One row (a JSON object, or one line of JSON Lines):

    {"asset": 17 | "external_key": "cam1/0001" | "file_name": "0001.jpg",
     "model_version": "resnet-v3",           # or the push's default version
     "probs": [0.7, 0.3],                    # one per project class, in class order
     "boxes": [{"x", "y", "w", "h", "score", "label", "class_probs": [...], "track": 3}],
     "keypoints": [{"label", "score", "points": {"nose": [x, y, confidence]}, "track": 3}],
                                             # a point may also be {"x", "y", "confidence"};
                                             # confidence (0..1) is per keypoint
     "embedding": [0.1, ...],
     "score": 0.42}                          # a ready informativeness score

A video asset's row gives its predictions per frame instead, each frame by its index in the
source video: {"asset": 18, "model_version": "det-v2", "frames": [{"frame": 0, "boxes":
[...], "keypoints": [...]}, ...]}; each frame goes to the task (segment) holding it. The
frames of one video may come in several rows of one push (one row per frame is fine); a
later push replaces a task's frames. "track" (optional, a whole number from 1) is the
tracker's own identity; without it, boxes are joined into tracks when they are read
(activelearn.inference.linking).

A bad row (unknown asset, NaN, a box outside the image, an unknown keypoint name, a wrong
number of probabilities) comes back as an error with its row number; the good rows are stored.
Each batch is its own transaction: a stream cut in the middle keeps the batches before it,
and pushing it again is harmless. Then the push orders the queue: a push to the active
version rescores; to a project with no active version (or with `activate`) its version is
activated through checkpoint_activate; otherwise the answer says it is not the active one.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from operator import contains, itemgetter

import orjson
import psycopg
from django.db import IntegrityError, connection, transaction
from psycopg.errors import ForeignKeyViolation, UniqueViolation

from activelearn.models import ModelVersion, Prediction
from activelearn.predictions.lines import JsonLinesBody, row_batches
from activelearn.predictions.rows import (
    RowContext,
    RowError,
    class_probs,
    row_data,
    rows_data,
)
from activelearn.scoring.runs import rescore_project
from activelearn.versions.services import CheckpointError, checkpoint_activate
from annotate.models import AnnotationTask, Asset, LabelClass, Project
from annotate.services.errors import InvalidFields

BATCH_SIZE = 5000
MAX_ERRORS_SHOWN = 1000

__all__ = [
    "JsonLinesBody",
    "PushError",
    "PushResult",
    "RowError",
    "class_probs",
    "predictions_push",
    "predictions_write",
    "push_version_get",
    "rescore_after_push",
    "row_data",
]


class PushError(InvalidFields):
    """The push as a whole is refused (not one row): e.g. a version name of another kind.
    Every such refusal is about the version, so it is answered on "model_version"."""

    def __init__(self, message: str) -> None:
        super().__init__({"model_version": [message]}, message)


@dataclass
class PushResult:
    stored: int = 0
    rows: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    model_versions: list[str] = field(default_factory=list)
    scoring_run: int | None = None
    # The one version pushed to (None when rows named several): whether it now orders the
    # queue, whether this push made it active, and a sentence saying what happened.
    model_version_id: int | None = None
    version_active: bool | None = None
    activated: bool = False
    message: str = ""

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "stored": self.stored,
            "error_count": self.error_count,
            "errors": self.errors,
            "model_versions": self.model_versions,
            "model_version_id": self.model_version_id,
            "version_active": self.version_active,
            "activated": self.activated,
            "message": self.message,
            "scoring_run": self.scoring_run,
        }


# --- the shared write path (the push below and activelearn.predictions.imports) -----------


def push_version_get(
    *, project: Project, name: str, task_type: str, user_id: int | None, notes: str = ""
) -> ModelVersion:
    """The version predictions are stored under, created as kind "pushed" when new."""
    name = str(name).strip()
    if not name or len(name) > 100:
        raise PushError("A model version name of 1 to 100 characters is needed.")
    if "\x00" in name:
        raise PushError("A model version name cannot hold the NUL character.")
    version, _ = ModelVersion.objects.get_or_create(
        project=project,
        name=name,
        defaults={
            "kind": ModelVersion.Kind.PUSHED,
            "task_type": task_type,
            "uploaded_by_id": user_id,
            "notes": notes or "Pushed predictions.",
        },
    )
    return version


# A batch is stored with COPY, PostgreSQL's bulk load path. Rows for a version that had no
# predictions when the push began, and for tasks this push has not written yet, cannot
# conflict: they are copied straight into the table. The others (a re-push) are copied into
# a session-private staging table and upserted from there in one statement, since COPY
# cannot resolve conflicts itself; so is a batch whose straight copy met a row written
# meanwhile by another push.
_STAGING = "activelearn_prediction_incoming"


_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
# Markers orjson never writes as raw bytes (it escapes every control character in a string),
# as raw fragments between a row's task id and its data, and between rows: so the rows' COPY
# text comes out of one orjson call over the whole batch (a call per row cost 1.6 us, most
# of it allocating each row's output) and two replaces.
_TASK_END, _ROW_END = orjson.Fragment(b"\x02"), orjson.Fragment(b"\x01")


# A batch's rows: {(task id, version id): data}, or, as the push's common batch has them
# (one version, distinct tasks), (task ids, version id, data in the tasks' order); the dict
# is made from the latter only when needed (a write that met a deleted task).
Rows = dict[tuple[int, int], dict] | tuple[list[int], int, list[dict]]


def _rows_dict(rows: Rows) -> dict[tuple[int, int], dict]:
    if isinstance(rows, dict):
        return rows
    tasks, version, datas = rows
    return dict(zip(zip(tasks, repeat(version)), datas, strict=True))


def _rows_count(rows: Rows) -> int:
    return len(rows) if isinstance(rows, dict) else len(rows[0])


def _copy_payload(rows: Rows) -> bytes:
    """The rows in COPY's text format: task, version, compact JSON (the creation time is the
    column's default, the COPY's statement time: a timestamp per row cost more). orjson
    escapes every control character, so only the backslash, COPY's escape character, needs
    doubling (in the whole payload at once: the other fields have none). A value orjson
    cannot write (an integer past 64 bits) sends the batch through the standard library."""
    if not _rows_count(rows):
        return b""
    if isinstance(rows, tuple):
        try:
            payload = _copy_text(*rows)
        except TypeError:
            payload = _standard_text(_rows_dict(rows))
        return payload.replace(b"\\", b"\\\\") if b"\\" in payload else payload
    versions = set(map(itemgetter(1), rows))
    try:
        if len(versions) == 1:
            tasks = list(map(itemgetter(0), rows))
            payload = _copy_text(tasks, versions.pop(), rows.values())
        else:  # rare: a batch naming several versions, one run of rows per version
            by_version: dict[int, tuple[list, list]] = {}
            for (task, version), data in rows.items():
                tasks, datas = by_version.setdefault(version, ([], []))
                tasks.append(task)
                datas.append(data)
            payload = b"".join([_copy_text(t, v, d) for v, (t, d) in by_version.items()])
    except TypeError:
        payload = _standard_text(rows)
    return payload.replace(b"\\", b"\\\\") if b"\\" in payload else payload


def _standard_text(rows: dict[tuple[int, int], dict]) -> bytes:
    """_copy_payload's text through the standard library (before the backslashes' doubling)."""
    texts = [_ENCODE(data).encode() for data in rows.values()]
    return b"".join(
        [
            b"%d\t%d\t%s\n" % (task, version, text)
            for (task, version), text in zip(rows, texts, strict=True)
        ]
    )


def _copy_text(tasks: list[int], version: int, datas: Iterable[dict]) -> bytes:
    """COPY lines for one version's rows: orjson writes [task, \\x02, data, \\x01, task, ...],
    the markers two raw fragments shared by every row; each marker with orjson's commas on
    either side becomes the columns' tab and version, or the line's end."""
    items: list = [_ROW_END] * (4 * len(tasks))
    items[::4] = tasks
    items[1::4] = [_TASK_END] * len(tasks)
    items[2::4] = datas
    items.pop()  # the last row's end: the closing bracket's place
    text = orjson.dumps(items)[1:-1]
    text = text.replace(b",\x02,", b"\t%d\t" % version)
    return text.replace(b",\x01,", b"\n") + b"\n"


def predictions_write(*, rows: dict[tuple[int, int], dict], fresh: bool = False) -> int:
    """Upsert {(task id, version id): data}; returns the row count. Call inside a
    transaction. `fresh`: no row can exist yet (see above), so COPY writes them straight
    into the table; should one exist after all, the batch is upserted instead."""
    if not rows:
        return 0
    return _copy_in(_copy_payload(rows), len(rows), fresh=fresh)


def _copy_in(text: bytes, count: int, *, fresh: bool) -> int:
    """predictions_write for `count` rows already in COPY text (_copy_payload)."""
    if not count:
        return 0
    table = Prediction._meta.db_table
    columns = "(task_id, model_version_id, data)"  # created_at: the column's default
    with connection.cursor() as cursor:
        if fresh:
            try:
                with (
                    transaction.atomic(),
                    connection.wrap_database_errors,  # psycopg's errors as Django's
                    cursor.cursor.copy(
                        f"COPY {table} {columns} FROM STDIN"  # noqa: S608
                    ) as copy,
                ):
                    copy.write(text)
                return count
            except IntegrityError as error:
                if not isinstance(error.__cause__, UniqueViolation):
                    raise  # a task or version that does not exist (migration 0016's trigger)
                # written meanwhile by another push: upserted below
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (task_id bigint, "
            "model_version_id bigint, data jsonb)"
        )
        with cursor.cursor.copy(f"COPY {_STAGING} {columns} FROM STDIN") as copy:  # noqa: S608
            copy.write(text)
        cursor.execute(
            f"INSERT INTO {table} {columns} "  # noqa: S608
            f"SELECT task_id, model_version_id, data FROM {_STAGING} "
            "ON CONFLICT (task_id, model_version_id) DO UPDATE SET data = EXCLUDED.data"
        )
        cursor.execute(f"TRUNCATE {_STAGING}")
    return count


def rescore_after_push(*, project: Project) -> int:
    return rescore_project(project=project, reason="push").pk


def _task_type(data: dict) -> str:
    if isinstance(data.get("frames"), list):
        data = {key: True for unit in data["frames"] for key in unit}
    if "keypoints" in data:
        return ModelVersion.TaskType.KEYPOINTS
    if "boxes" in data:
        return ModelVersion.TaskType.DETECTION
    if "embedding" in data and "probs" not in data:
        return ModelVersion.TaskType.EMBEDDING
    return ModelVersion.TaskType.CLASSIFICATION


# --- the push -------------------------------------------------------------------------------


class _BatchWriter:
    """Writes each checked batch in its own transaction. Outside a transaction the write runs
    on a second thread (its own database connection) while the next batch is parsed and
    checked: COPY waits on PostgreSQL, not on the GIL. Inside a caller's transaction
    (a test, ATOMIC_REQUESTS) it writes inline, where the caller's rows are visible.

    On its own connection the batches commit without waiting for their WAL to reach the disk
    (synchronous_commit off: the flush took a quarter of a batch's time), and the push ends
    with one transaction that does wait, which flushes every commit before it: when the push
    answers, what it stored is as durable as with a flush per batch. (Should the database
    server itself crash during a push, its last batches may be lost: the push then failed,
    and pushing it again is harmless.)"""

    # Batches handed to the writer and not yet written: two, so that a batch that takes the
    # writer longer than usual does not hold up the checks (memory stays bounded).
    IN_FLIGHT = 2

    def __init__(self) -> None:
        self.stored = 0
        self.pending: deque[Future] = deque()
        self.pool = None if connection.in_atomic_block else ThreadPoolExecutor(1)
        self.deferred = False  # the writer's connection commits without a flush
        self.failed = False  # a write failed: the batches after it are not written

    def _write_deferred(self, fresh: Rows, upsert: dict, texts: tuple[bytes, bytes]) -> int:
        """_write on the writer's thread and connection, in the order the batches came."""
        if self.failed:
            return 0
        try:
            if not self.deferred:
                with connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit = off")
                self.deferred = True
            return self._write(fresh, upsert, texts)
        except BaseException:
            self.failed = True
            raise

    def _end(self) -> None:
        """On the writer's thread: its commits made durable, its connection closed."""
        try:
            if self.deferred:
                with connection.cursor() as cursor:
                    cursor.execute("RESET synchronous_commit")
                # A transaction with an id commits with a flush of the WAL up to its commit
                # record, which takes every earlier commit of this connection along.
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()")
        finally:
            connection.close()

    @staticmethod
    def _write(fresh: Rows, upsert: dict, texts: tuple[bytes, bytes] | None = None) -> int:
        """`texts`: the two batches' COPY text, when made already."""
        try:
            with transaction.atomic():
                if texts is None:
                    return predictions_write(rows=_rows_dict(fresh), fresh=True) + (
                        predictions_write(rows=upsert)
                    )
                return _copy_in(texts[0], _rows_count(fresh), fresh=True) + _copy_in(
                    texts[1], len(upsert), fresh=False
                )
        except IntegrityError as error:
            if not isinstance(error.__cause__, ForeignKeyViolation):
                raise
        # A task or version was deleted after the batch was looked up: the rest is stored.
        fresh = _rows_dict(fresh)
        keys = [*fresh, *upsert]
        tasks = set(
            AnnotationTask.objects.filter(pk__in={t for t, _ in keys}).values_list("pk", flat=True)
        )
        versions = set(
            ModelVersion.objects.filter(pk__in={v for _, v in keys}).values_list("pk", flat=True)
        )
        fresh, upsert = (
            {k: v for k, v in rows.items() if k[0] in tasks and k[1] in versions}
            for rows in (fresh, upsert)
        )
        with transaction.atomic():
            return predictions_write(rows=fresh, fresh=True) + predictions_write(rows=upsert)

    def write(self, fresh: Rows, upsert: dict) -> None:
        # The COPY text is made here, on the push's own thread: the writer's thread then only
        # waits on PostgreSQL, and never holds the GIL the next batch's check needs.
        texts = (_copy_payload(fresh), _copy_payload(upsert))
        if self.pool is None:
            self.stored += self._write(fresh, upsert, texts)
            return
        while len(self.pending) >= self.IN_FLIGHT:
            self.stored += self.pending.popleft().result()  # a failed write raises here
        self.pending.append(self.pool.submit(self._write_deferred, fresh, upsert, texts))

    def _wait(self) -> None:
        while self.pending:
            self.stored += self.pending.popleft().result()

    def close(self) -> int:
        if self.pool is not None:
            try:
                self._wait()
            finally:
                # The thread's own connection: looked up inside the thread.
                try:
                    self.pool.submit(self._end).result()
                finally:
                    self.pool.shutdown()
        return self.stored


_collector = {"lock": threading.Lock(), "pushes": 0, "was_enabled": True, "switch": 0.005}
# While a push runs, a thread waiting for the GIL gets it after 0.5 ms instead of Python's
# 5 ms: the lookup's and the writer's threads wake on every socket event (a result arrived,
# room to send more COPY data) and need the GIL for a moment, while PostgreSQL waits for them.
_PUSH_SWITCH_INTERVAL = 0.0005


@contextmanager
def _collector_paused():
    """The cycle collector off while a push runs. A batch makes hundreds of thousands of
    containers (parsed rows) that live until it is written; the collector walks them again
    and again (a third of the Python time of a push, measured), while each is freed by its
    reference count when its batch is done. Pushes on several threads share one pause."""
    with _collector["lock"]:
        _collector["pushes"] += 1
        if _collector["pushes"] == 1:
            _collector["was_enabled"] = gc.isenabled()
            gc.disable()
            _collector["switch"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_PUSH_SWITCH_INTERVAL, _collector["switch"]))
    try:
        yield
    finally:
        with _collector["lock"]:
            _collector["pushes"] -= 1
            if _collector["pushes"] == 0:
                sys.setswitchinterval(_collector["switch"])
                if _collector["was_enabled"]:
                    gc.enable()


class _Lookup:
    """Asset lookups one batch ahead: outside a transaction on a thread of their own (its own
    database connection), so PostgreSQL resolves the next batch's keys while this one is
    checked; inside a caller's transaction, inline."""

    def __init__(self) -> None:
        self.pool = None if connection.in_atomic_block else ThreadPoolExecutor(1)

    def find(self, project: Project, keys: set) -> Future | dict:
        if self.pool is None:
            return _assets_find(project, keys)
        return self.pool.submit(_assets_find, project, keys)

    @staticmethod
    def result(found: Future | dict) -> dict:
        return found.result() if isinstance(found, Future) else found

    def close(self) -> None:
        if self.pool is not None:
            self.pool.submit(lambda: connection.close()).result()
            self.pool.shutdown()


def _asset_key(row: dict) -> tuple[str, object] | None:
    for key in ("asset", "asset_id"):
        if key in row:
            value = row[key]
            return ("id", value) if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(row.get("external_key"), str):
        return ("external_key", row["external_key"])
    if isinstance(row.get("file_name"), str):
        return ("original_name", row["file_name"])
    return None


def _assets_find(project: Project, keys: set[tuple[str, object]]) -> dict:
    """{(kind, value): ((width, height), [(task id, first frame, last frame), ...])} for the
    batch's keys, one query per kind (frames None on an image); in the common case the
    lookup's rows as they came instead (_OneTaskEach).
    A file name shared by several assets maps to the first; use external keys for those."""
    by_kind: dict[str, list] = {"id": [], "external_key": [], "original_name": []}
    kinds = set(map(itemgetter(0), keys))
    if len(kinds) == 1:  # the common batch: every row names its asset the same way
        by_kind[kinds.pop()] = list(map(itemgetter(1), keys))
    else:
        for kind, value in keys:
            by_kind[kind].append(value)
    answers = []
    for kind, values in by_kind.items():
        # What PostgreSQL cannot hold matches no asset: text with NUL, ids past bigint.
        if kind == "id":
            values = [value for value in values if -(2**63) <= value < 2**63]
        elif "\x00" in "".join(values):
            values = [value for value in values if "\x00" not in value]
        if values:
            answers.append(_assets_of_kind(project, kind, values))
    if len(answers) == 1:
        return answers[0]
    found: dict = {}
    for answer in answers:
        if type(answer) is _OneTaskEach:
            answer = {key: _entry(row) for key, row in answer.items()}
        found.update(answer)
    return found


class _OneTaskEach(dict):
    """_assets_find's answer when each key found one asset with one task (an image's, or a
    video's only segment) and no gold copy, the common case: {(kind, value): the lookup's
    row as fetched}, its size and task read with _SIZE and _TASK, or made an entry of the
    general form with _entry."""


_SIZE, _TASK = itemgetter(1, 2), itemgetter(3)


def _entry(row: tuple) -> tuple[tuple, list[tuple]]:
    """A fetched row (_OneTaskEach) as the general form: ((width, height), [(task, first
    frame, last frame)])."""
    return (row[1], row[2]), [(row[3], row[4], row[5])]


def _assets_of_kind(project: Project, kind: str, values: list) -> dict:
    """_assets_find for the keys of one kind: one query."""
    assets, tasks = Asset._meta.db_table, AnnotationTask._meta.db_table
    if kind == "id":  # an array literal, one parameter (psycopg adapts a list by item)
        match, param = "a.id = ANY(%s::bigint[])", "{" + ",".join(map(str, values)) + "}"
    else:  # a JSON array: any text, one parameter
        # Compared bytewise (COLLATE "C", the indexes asset_project_key_c and _name_c of
        # annotate's migration 0025): equality is the same in every deterministic collation,
        # and each of the 5,000 probes of a batch compares keys without the collation's cost.
        match = f'a.{kind} COLLATE "C" = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))'
        try:
            param = orjson.dumps(values).decode()
        except TypeError:  # a lone surrogate, which the standard library escapes
            param = json.dumps(values)
    connection.ensure_connection()
    # psycopg's own cursor: the keys sent as a parameter (Django's cursor writes them into the
    # query's text), the answer in binary; half the Python time of the lookup.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # Driven from the keys (index probes), the assets' tasks through task_unique_segment,
        # and the gold copies of each task through task_gold_of_idx (a left join: none, the
        # common case, gives one row per task).
        cursor.execute(
            f"SELECT a.{kind}, a.width, a.height, t.id, t.frame_start, t.frame_end, "  # noqa: S608
            f"a.id, g.id, g.frame_start, g.frame_end FROM {assets} a "
            f"JOIN {tasks} t ON t.asset_id = a.id AND t.gold_of_id IS NULL "
            f"LEFT JOIN {tasks} g ON g.gold_of_id = t.id "
            f"WHERE {match} AND a.project_id = %s",
            [param, project.pk],
            binary=True,
        )
        rows = cursor.fetchall()
    if not any(map(itemgetter(7), rows)):  # no gold copies
        # One task per asset, the common case: the rows as they are, keyed in C (zip, map).
        keys = zip(repeat(kind), map(itemgetter(0), rows), strict=False)
        found = _OneTaskEach(zip(keys, rows, strict=True))
        if len(found) == len(rows):
            return found
    # Several tasks per asset (video segments, gold copies) or several assets per key: in
    # asset order, so a key shared by several assets takes the first one's size.
    found, entry_of = {}, {}
    originals = sorted({row[3]: row for row in rows}.values(), key=itemgetter(6, 3))
    for value, width, height, task_id, start, end, *_ in originals:
        entry = found.setdefault((kind, value), ((width, height), []))
        entry[1].append((task_id, start, end))
        entry_of[task_id] = entry
    for row in rows:
        if row[7] is not None:
            entry_of[row[3]][1].append((row[7], row[8], row[9]))
    return found


def _frames_to_tasks(
    units: list[dict],
    tasks: list[tuple[int, int | None, int | None]],
    version_id: int,
    video_frames: dict[tuple[int, int], dict[int, dict]],
) -> None:
    """Each frame to the video task (segment) holding it; frames outside every segment (not
    extracted at the project's stride, past the end) are left out."""
    for unit in units:
        for task_id, start, end in tasks:
            if start is not None and end is not None and start <= unit["index"] <= end:
                video_frames.setdefault((task_id, version_id), {})[unit["index"]] = unit


def _name_ok(name: object, known: dict[str, int]) -> bool:
    """Whether a row's version name (after the push's default) can name a version: a known
    name, or a new one that is not blank."""
    return isinstance(name, str) and (name in known or bool(name.strip()))


def _one_name(names: list, default: str | None, known: dict[str, int]) -> str | None:
    """The version name every row of a batch gives (a row without one takes the push's
    default), when it is the same good name for all of them; None otherwise (each row is
    then checked on its own)."""
    try:
        given = set(names)
    except TypeError:  # an unhashable name (a list): refused row by row
        return None
    if len(given) != 1:
        return None
    name = given.pop() or default
    return name if _name_ok(name, known) else None


def predictions_push(
    *,
    project: Project,
    rows: Iterable | JsonLinesBody,
    user=None,
    model_version_name: str | None = None,
    batch_size: int = BATCH_SIZE,
    activate: bool = False,
) -> PushResult:
    """Check and store pushed rows batch by batch (see the module docstring), then let them
    order the queue: rescore when they went to the active version, activate their version
    (through checkpoint_activate, which rescores) when none is active or `activate` asks.
    `rows`: dicts or lines (str, bytes), or a JSON Lines body (JsonLinesBody)."""
    with _collector_paused():
        return _push(
            project=project,
            rows=rows,
            user=user,
            model_version_name=model_version_name,
            batch_size=batch_size,
            activate=activate,
        )


def _push(
    *,
    project: Project,
    rows: Iterable | JsonLinesBody,
    user,
    model_version_name: str | None,
    batch_size: int,
    activate: bool,
) -> PushResult:
    ctx = RowContext(
        classes=list(
            LabelClass.objects.filter(project=project)
            .order_by("order", "id")
            .values_list("name", flat=True)
        ),
        keypoints=set(project.keypoint_names) if project.keypoints_enabled else set(),
    )
    result = PushResult()
    versions: dict[str, ModelVersion] = {}
    # Per version pushed to: the tasks this push may still COPY straight in (the version had
    # no predictions when it began), and those it wrote already; None once it had some.
    written: dict[int, set[int] | None] = {}
    user_id = getattr(user, "pk", None)

    failed: list[tuple[int, dict | None, str]] = []  # the batch's, told in row order

    def fail(number: int, row: dict | None, message: str) -> None:
        failed.append((number, row, message))

    def report() -> None:
        result.error_count += len(failed)
        for number, row, message in sorted(failed, key=lambda item: item[0]):
            if len(result.errors) >= MAX_ERRORS_SHOWN:
                break
            entry = {"row": number, "error": message}
            if row:
                for key in ("asset", "asset_id", "external_key", "file_name"):
                    if key in row:
                        entry[key] = row[key]
            result.errors.append(entry)
        failed.clear()

    def version_for(name: str, data: dict) -> ModelVersion:
        version = versions.get(name)
        if version is None:
            version = push_version_get(
                project=project, name=name, task_type=_task_type(data), user_id=user_id
            )
            versions[name] = version
            had_rows = Prediction.objects.filter(model_version=version).exists()
            written[version.pk] = None if had_rows else set()
        return version

    def write_new(tasks: list[int], version_id: int, datas: list[dict]) -> None:
        """The common batch: one version, a task per row; written straight when every task
        is new to this push and the version had no predictions."""
        done = written[version_id]
        new = set(tasks)
        if done is not None and len(new) == len(tasks) and done.isdisjoint(new):
            done |= new
            writer.write((tasks, version_id, datas), {})
            return
        write(dict(zip(zip(tasks, repeat(version_id)), datas, strict=True)))

    def write(out: dict[tuple[int, int], dict]) -> None:
        tasks = list(map(itemgetter(0), out))
        named = set(map(itemgetter(1), out))
        done = written[next(iter(named))] if len(named) == 1 else None
        if done is not None and done.isdisjoint(tasks):  # the common case: one new version
            done.update(tasks)
            writer.write(out, {})
            return
        fresh, upsert = {}, {}
        for key, data in out.items():
            done = written[key[1]]
            if done is None or key[0] in done:
                upsert[key] = data
            else:
                fresh[key] = data
                done.add(key[0])
        writer.write(fresh, upsert)

    version_ids: dict[str, int] = {}  # the names checked and found: their version's id

    def flush(numbers: list[int], rows: list[dict], keys: list, assets: dict) -> None:
        # This runs for every row: each step is done for the whole batch at once in C (map,
        # zip, set) when every row passes it, which is the common case, and row by row,
        # with each row's own error, only otherwise.
        found = list(map(assets.get, keys))  # a key None finds None
        names = list(map(dict.get, rows, repeat("model_version")))
        name = _one_name(names, model_version_name, version_ids)
        # The lookup's rows as fetched (_OneTaskEach): each row's asset, its one task.
        fetched = type(assets) is _OneTaskEach
        if name is not None and None not in found:
            if fetched:
                sizes = list(map(_SIZE, found))
            else:
                sizes = list(map(itemgetter(0), found))
                found = list(map(itemgetter(1), found))
            names = [name] * len(rows)
        else:
            if fetched:
                found = [None if row is None else _entry(row) for row in found]
                fetched = False
            kept_numbers, kept, sizes, kept_found, names = [], [], [], [], []
            default = model_version_name
            for number, row, key, asset in zip(numbers, rows, keys, found, strict=True):
                if key is None:
                    fail(number, row, "give asset (an id), external_key or file_name")
                    continue
                if asset is None:
                    fail(number, row, f"no asset {key[1]!r} with tasks in this project")
                    continue
                name = row.get("model_version") or default
                if not _name_ok(name, version_ids):
                    fail(number, row, "give model_version (a version name)")
                    continue
                kept_numbers.append(number)
                kept.append(row)
                sizes.append(asset[0])
                kept_found.append(asset[1])
                names.append(name)
            numbers, rows, found = kept_numbers, kept, kept_found
        datas = rows_data(rows, sizes, ctx)
        version_id = version_ids.get(names[0]) if names else None
        if (
            version_id is not None
            and names.count(names[0]) == len(names)
            and set(map(type, datas)) == {dict}
            and not any(map(contains, datas, repeat("frames")))
            and (fetched or set(map(len, found)) == {1})
        ):
            # One known version, every row good, one task per asset (an image's).
            if fetched:
                tasks = list(map(_TASK, found))
            else:
                tasks = list(map(itemgetter(0), map(itemgetter(0), found)))
            write_new(tasks, version_id, datas)
            return
        if fetched:
            found = [_entry(row)[1] for row in found]
        out: dict[tuple[int, int], dict] = {}
        for number, row, tasks, name, data in zip(numbers, rows, found, names, datas, strict=True):
            if type(data) is not dict:
                fail(number, row, str(data))  # a RowError
                continue
            version_id = version_ids.get(name)
            if version_id is None:
                try:
                    version_id = version_ids[name] = version_for(name, data).pk
                except PushError as error:
                    fail(number, row, str(error))
                    continue
            if "frames" in data:
                if all(start is None for _, start, _ in tasks):
                    fail(number, row, "frames are for a video; this asset is an image")
                    continue
                _frames_to_tasks(data["frames"], tasks, version_id, video_frames)
                continue
            for task_id, _, _ in tasks:
                out[(task_id, version_id)] = data
        write(out)

    def looked_up(decoded: list) -> tuple:
        """The batch's rows (the lines that are rows), their line numbers, their asset keys,
        and the batch's asset lookup (started, on the lookup's own connection when there is
        one)."""
        numbers = list(map(itemgetter(0), decoded))
        rows = list(map(itemgetter(1), decoded))
        if None in rows:  # lines that are not rows: told by check()
            numbers = [number for number, row, _ in decoded if row is not None]
            rows = [row for row in rows if row is not None]
        keys = list(map(_asset_key, rows))
        wanted = set(keys)
        wanted.discard(None)
        return decoded, numbers, rows, keys, lookup.find(project, wanted)

    def check(decoded: list, numbers: list, rows: list, keys: list, assets: Future | dict) -> None:
        result.rows += len(decoded)
        if len(rows) < len(decoded):
            for number, row, error in decoded:
                if error:
                    fail(number, row, error)
        if rows:
            flush(numbers, rows, keys, lookup.result(assets))
        report()

    writer = _BatchWriter()
    lookup = _Lookup()
    # A video's frames, gathered over the whole push: {(task, version): {frame: unit}}.
    video_frames: dict[tuple[int, int], dict[int, dict]] = {}
    try:
        # One batch ahead: the next batch's assets are looked up while this one is checked.
        ahead = None
        for decoded in row_batches(rows, batch_size):
            current, ahead = ahead, looked_up(decoded)
            if current is not None:
                check(*current)
        if ahead is not None:
            check(*ahead)
        pending = list(video_frames.items())
        for start in range(0, len(pending), batch_size):
            write(
                {
                    key: {"frames": [units[index] for index in sorted(units)]}
                    for key, units in pending[start : start + batch_size]
                }
            )
    finally:
        lookup.close()
        result.stored = writer.close()
    result.model_versions = sorted(versions)
    _reorder_queue(project, list(versions.values()), result, activate=activate)
    return result


def _reorder_queue(
    project: Project, pushed: list[ModelVersion], result: PushResult, *, activate: bool
) -> None:
    """Make the push order the queue: rescore when it went to the active version; activate
    it (which rescores) when no version is active, or when asked to."""
    active = ModelVersion.objects.filter(project=project, is_active=True).first()
    if len(pushed) != 1:
        if active is not None and any(v.pk == active.pk for v in pushed):
            result.scoring_run = rescore_after_push(project=project)
        if pushed:
            result.message = (
                "Rows named several versions; activate one with "
                "POST /api/checkpoints/<id>/activate/ to order the queue by it."
            )
        return
    version = pushed[0]
    result.model_version_id = version.pk
    if active is not None and active.pk == version.pk:
        result.version_active = True
        result.scoring_run = rescore_after_push(project=project)
        result.message = f"{version.name!r} is the active version: the queue is being rescored."
        return
    if active is None or activate:
        try:
            run = checkpoint_activate(version=version)
        except CheckpointError as error:
            result.version_active = False
            result.message = f"{version.name!r} was not activated: {error.errors['strategy'][0]}"
            return
        result.version_active, result.activated, result.scoring_run = True, True, run.pk
        why = "no version was active" if active is None else f"it replaces {active.name!r}"
        result.message = f"{version.name!r} is now the active version ({why}): rescoring."
        return
    result.version_active = False
    result.message = (
        f"{version.name!r} is not the active version ({active.name!r} is): its predictions "
        'are stored but do not order the queue. Push with ?activate=1 (or "activate": true) '
        f"or POST /api/checkpoints/{version.pk}/activate/ to make it active."
    )
