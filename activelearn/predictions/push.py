"""Predictions pushed by an outside model: rows per asset (by id, external key or original file
name) with class probabilities, boxes, keypoints, an embedding or a ready score, tagged with a
model version name. Read as a stream in batches; each batch is checked row by row, copied into
a staging table (COPY) and upserted from it with one INSERT ... ON CONFLICT, so a re-push of
the same rows gives the same table.

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

import json
import json.scanner
import math
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection, transaction

from activelearn.models import ModelVersion, Prediction
from activelearn.scoring.runs import rescore_project
from activelearn.versions.services import CheckpointError, checkpoint_activate
from annotate.models import AnnotationTask, Asset, LabelClass, Project
from annotate.services.errors import InvalidFields

BATCH_SIZE = 5000
MAX_ERRORS_SHOWN = 1000
BOX_TOLERANCE = 1.0  # pixels a box may overhang the image (rounding of exported boxes)


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


class RowError(Exception):
    pass


def class_probs(label: str, score: float, names: list[str]) -> list[float]:
    """A file gives one class and a score per box; scoring wants a distribution over the
    classes. The score goes to the given class and the rest is shared evenly: an assumption,
    the best a single score allows."""
    if len(names) == 1:
        return [1.0]
    rest = (1.0 - score) / (len(names) - 1)
    return [score if name == label else rest for name in names]


# --- the shared write path (the push below and activelearn.predictions.imports) -----------


def push_version_get(
    *, project: Project, name: str, task_type: str, user_id: int | None, notes: str = ""
) -> ModelVersion:
    """The version predictions are stored under, created as kind "pushed" when new."""
    name = str(name).strip()
    if not name or len(name) > 100:
        raise PushError("A model version name of 1 to 100 characters is needed.")
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


# Each batch is copied into a session-private staging table (COPY, PostgreSQL's bulk load
# path) and upserted from there in one statement: COPY cannot resolve conflicts itself.
_STAGING = "activelearn_prediction_incoming"


def _copy_text(value: str) -> str:
    """A JSON text as a field of COPY's text format. json.dumps escapes every control
    character (ensure_ascii), so only the backslash, COPY's escape character, needs doubling."""
    return value.replace("\\", "\\\\")


_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def predictions_write(*, rows: dict[tuple[int, int], dict]) -> int:
    """Upsert {(task id, version id): data}: COPY into a staging table, then one INSERT ...
    ON CONFLICT from it. Returns the row count. Call inside a transaction."""
    if not rows:
        return 0
    dumps = _ENCODE
    text = "".join(
        f"{task_id}\t{version_id}\t{_copy_text(dumps(data))}\n"
        for (task_id, version_id), data in rows.items()
    )
    table = Prediction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (task_id bigint, "
            "model_version_id bigint, data jsonb)"
        )
        with cursor.cursor.copy(
            f"COPY {_STAGING} (task_id, model_version_id, data) FROM STDIN"  # noqa: S608
        ) as copy:
            copy.write(text)
        cursor.execute(
            f"INSERT INTO {table} (task_id, model_version_id, data, created_at) "  # noqa: S608
            f"SELECT task_id, model_version_id, data, now() FROM {_STAGING} "
            "ON CONFLICT (task_id, model_version_id) DO UPDATE SET data = EXCLUDED.data"
        )
        cursor.execute(f"TRUNCATE {_STAGING}")
    return len(rows)


def rescore_after_push(*, project: Project) -> int:
    return rescore_project(project=project, reason="push").pk


# --- checking one row -----------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise RowError(f"{name} is not a number; NaN and infinities are refused")


def _number(value: object, what: str) -> float:
    kind = type(value)
    if kind is float:  # the common cases first: parsed JSON numbers
        if math.isfinite(value):
            return value
        raise RowError(f"{what} is NaN or infinite")
    if kind is int and -(2**53) <= value <= 2**53:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowError(f"{what} must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise RowError(f"{what} is too large") from None
    if not math.isfinite(number):
        raise RowError(f"{what} is NaN or infinite")
    return number


def _unit_interval(value: object, what: str) -> float:
    if type(value) is float and 0.0 <= value <= 1.0:  # NaN fails the comparison
        return value
    number = _number(value, what)
    if not 0.0 <= number <= 1.0:
        raise RowError(f"{what} must be between 0 and 1")
    return number


def _probs(values: object, classes: list[str], what: str) -> list[float]:
    if not isinstance(values, list):
        raise RowError(f"{what} must be a list of {len(classes)} probabilities")
    if len(values) != len(classes):
        raise RowError(f"{what} has {len(values)} values; the project has {len(classes)} classes")
    return [_unit_interval(v, what) for v in values]


@dataclass
class _Context:
    classes: list[str]
    keypoints: set[str]


def _box(box: object, n: int, size: tuple[int | None, int | None], ctx: _Context) -> dict:
    if not isinstance(box, dict):
        raise RowError(f"box {n} must be an object")
    x, y, w, h = (_number(box.get(k), f"box {n} {k}") for k in ("x", "y", "w", "h"))
    if w <= 0 or h <= 0:
        raise RowError(f"box {n} has no area")
    width, height = size
    if (
        x < -BOX_TOLERANCE
        or y < -BOX_TOLERANCE
        or (width and x + w > width + BOX_TOLERANCE)
        or (height and y + h > height + BOX_TOLERANCE)
    ):
        raise RowError(f"box {n} lies outside the {width}x{height} image")
    score = 1.0 if box.get("score") is None else _unit_interval(box["score"], f"box {n} score")
    label = box.get("label")
    if label is not None and label not in ctx.classes:
        raise RowError(f"box {n} has the unknown class {label!r}")
    out = {"x": x, "y": y, "w": w, "h": h, "score": score}
    if box.get("class_probs") is not None:
        out["class_probs"] = _probs(box["class_probs"], ctx.classes, f"box {n} class_probs")
        if label is None:
            out["label"] = ctx.classes[
                max(range(len(ctx.classes)), key=out["class_probs"].__getitem__)
            ]
    elif label is not None:
        out["class_probs"] = class_probs(label, score, ctx.classes)
    else:
        raise RowError(f"box {n} needs a label or class_probs")
    out.setdefault("label", label)
    track = _track(box, f"box {n}")
    if track is not None:
        out["track"] = track
    return out


def _track(shape: dict, what: str) -> int | None:
    track = shape.get("track")
    if track is None:
        return None
    if isinstance(track, bool) or not isinstance(track, int) or not 1 <= track <= 2**31 - 1:
        raise RowError(f"{what} track must be a whole number from 1")
    return track


def _instance(item: object, n: int, ctx: _Context) -> dict:
    if not isinstance(item, dict) or not isinstance(item.get("points"), dict):
        raise RowError(f"keypoint instance {n} needs points {{name: [x, y, confidence]}}")
    points, confidences = {}, {}
    for name, value in item["points"].items():
        if name not in ctx.keypoints:
            raise RowError(f"keypoint instance {n} has the unknown keypoint name {name!r}")
        if isinstance(value, dict) and set(value) == {"x", "y", "confidence"}:
            value = [value["x"], value["y"], value["confidence"]]
        if not isinstance(value, list) or len(value) != 3:
            raise RowError(
                f'keypoint {name!r} must be [x, y, confidence] or {{"x", "y", "confidence"}}'
            )
        px = _number(value[0], f"keypoint {name!r} x")
        py = _number(value[1], f"keypoint {name!r} y")
        confidence = _unit_interval(value[2], f"keypoint {name!r} confidence")
        points[name] = [px, py, confidence]
        confidences[name] = confidence
    score = 1.0 if item.get("score") is None else _unit_interval(item["score"], "score")
    label = item.get("label") or (ctx.classes[0] if ctx.classes else "")
    out = {"label": label, "points": points, "score": score, "confidences": confidences}
    track = _track(item, f"keypoint instance {n}")
    if track is not None:
        out["track"] = track
    return out


def row_data(row: dict, size: tuple[int | None, int | None], ctx: _Context) -> dict:
    """What a row stores in Prediction.data, or RowError saying what is wrong. A video's
    row ({"frames": [...]}) gives {"frames": [{"index": frame, ...}, ...]}."""
    if "frames" in row:
        frames = row["frames"]
        if not isinstance(frames, list) or not frames:
            raise RowError("frames must be a non-empty list of {frame, boxes, keypoints, ...}")
        units, seen = [], set()
        for n, unit in enumerate(frames):
            if not isinstance(unit, dict):
                raise RowError(f"frames[{n}] must be an object")
            index = unit.get("frame")
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise RowError(f"frames[{n}] needs frame, its index in the video (from 0)")
            if index in seen:
                raise RowError(f"frame {index} is given twice")
            seen.add(index)
            try:
                data = _unit_data({k: v for k, v in unit.items() if k != "frame"}, size, ctx)
            except RowError as error:
                raise RowError(f"frame {index}: {error}") from None
            units.append({"index": index, **data})
        return {"frames": units}
    return _unit_data(row, size, ctx)


def _unit_data(row: dict, size: tuple[int | None, int | None], ctx: _Context) -> dict:
    data: dict = {}
    if "probs" in row:
        data["probs"] = _probs(row["probs"], ctx.classes, "probs")
    if "boxes" in row:
        if not isinstance(row["boxes"], list):
            raise RowError("boxes must be a list")
        data["boxes"] = [_box(box, n, size, ctx) for n, box in enumerate(row["boxes"])]
    if "keypoints" in row:
        if not isinstance(row["keypoints"], list):
            raise RowError("keypoints must be a list")
        data["keypoints"] = [_instance(item, n, ctx) for n, item in enumerate(row["keypoints"])]
    if "embedding" in row:
        vector = row["embedding"]
        if not isinstance(vector, list) or not vector:
            raise RowError("embedding must be a non-empty list of numbers")
        data["embedding"] = [_number(v, "embedding") for v in vector]
    if "score" in row:
        data["score"] = _number(row["score"], "score")
    if not data:
        raise RowError("give probs, boxes, keypoints, embedding or score")
    return data


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
    checked: the INSERT waits on PostgreSQL, not on the GIL. Inside a caller's transaction
    (a test, ATOMIC_REQUESTS) it writes inline, where the caller's rows are visible."""

    def __init__(self) -> None:
        self.stored = 0
        self.pending: Future | None = None
        self.pool = None if connection.in_atomic_block else ThreadPoolExecutor(1)

    @staticmethod
    def _write(rows: dict) -> int:
        with transaction.atomic():
            return predictions_write(rows=rows)

    def write(self, rows: dict) -> None:
        if self.pool is None:
            self.stored += self._write(rows)
            return
        self._wait()  # one batch in flight: memory stays bounded, errors surface early
        self.pending = self.pool.submit(self._write, rows)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.stored += pending.result()

    def close(self) -> int:
        if self.pool is not None:
            try:
                self._wait()
            finally:
                # The thread's own connection: looked up inside the thread.
                self.pool.submit(lambda: connection.close()).result()
                self.pool.shutdown()
        return self.stored


# One scanner for the whole push (json.loads builds a decoder per line and matches the
# surrounding whitespace with a regular expression): the C scanner, the same parser.
_SCAN = json.scanner.make_scanner(json.JSONDecoder(parse_constant=_reject_constant))
_JSON_SPACE = " \t\n\r"


def _decode(text: str) -> object:
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    try:
        value, end = _SCAN(text, start)
    except StopIteration:
        value, end = None, -1
    if end < 0 or text[end:].strip(_JSON_SPACE):
        # Not one JSON value: json.loads says what is wrong, in its own words.
        return json.loads(text, parse_constant=_reject_constant)
    return value


def _rows(source: Iterable) -> Iterator[tuple[int, dict | None, str | None]]:
    """(row number, row, error) from dicts (bulk JSON) or lines (JSON Lines)."""
    for number, item in enumerate(source, start=1):
        if isinstance(item, bytes | str):
            if not item.strip():
                continue
            try:
                item = _decode(item) if isinstance(item, str) else _decode_bytes(item)
            except RowError as error:
                yield number, None, str(error)
                continue
            except ValueError as error:
                yield number, None, f"not JSON: {error}"
                continue
        if not isinstance(item, dict):
            yield number, None, "a row must be a JSON object"
            continue
        yield number, item, None


def _decode_bytes(line: bytes) -> object:
    try:
        text = line.decode()
    except UnicodeDecodeError:
        return json.loads(line, parse_constant=_reject_constant)  # UTF-16/32, or an error
    return _decode(text)


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
    """{(kind, value): (width, height, [(task id, first frame, last frame)])} for the
    batch's keys, one query per kind (frames None on an image).
    A file name shared by several assets maps to the first; use external keys for those."""
    found: dict = {}
    assets, tasks = Asset._meta.db_table, AnnotationTask._meta.db_table
    for kind in ("id", "external_key", "original_name"):
        values = [value for k, value in keys if k == kind]
        if not values:
            continue
        cast = "::bigint" if kind == "id" else ""
        with connection.cursor() as cursor:
            # Driven from the keys (indexed lookups), not from the project's assets.
            cursor.execute(
                f"SELECT a.{kind}, a.width, a.height, t.id, t.frame_start, t.frame_end "  # noqa: S608
                f"FROM (SELECT DISTINCT k{cast} AS k "
                "FROM jsonb_array_elements_text(%s::jsonb) k) keys "
                f"JOIN {assets} a ON a.{kind} = keys.k AND a.project_id = %s "
                f"JOIN {tasks} t ON t.asset_id = a.id ORDER BY a.id, t.id",
                [json.dumps(values), project.pk],
            )
            for value, width, height, task_id, start, end in cursor.fetchall():
                entry = found.setdefault((kind, value), (width, height, []))
                entry[2].append((task_id, start, end))
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


def predictions_push(
    *,
    project: Project,
    rows: Iterable,
    user=None,
    model_version_name: str | None = None,
    batch_size: int = BATCH_SIZE,
    activate: bool = False,
) -> PushResult:
    """Check and store pushed rows batch by batch (see the module docstring), then let them
    order the queue: rescore when they went to the active version, activate their version
    (through checkpoint_activate, which rescores) when none is active or `activate` asks."""
    ctx = _Context(
        classes=list(
            LabelClass.objects.filter(project=project)
            .order_by("order", "id")
            .values_list("name", flat=True)
        ),
        keypoints=set(project.keypoint_names) if project.keypoints_enabled else set(),
    )
    result = PushResult()
    versions: dict[str, ModelVersion] = {}
    user_id = getattr(user, "pk", None)

    def fail(number: int, row: dict | None, message: str) -> None:
        result.error_count += 1
        if len(result.errors) < MAX_ERRORS_SHOWN:
            entry = {"row": number, "error": message}
            if row:
                for key in ("asset", "asset_id", "external_key", "file_name"):
                    if key in row:
                        entry[key] = row[key]
            result.errors.append(entry)

    def flush(batch: list[tuple[int, dict]]) -> None:
        keys = {key for _, row in batch if (key := _asset_key(row))}
        assets = _assets_find(project, keys)
        out: dict[tuple[int, int], dict] = {}
        for number, row in batch:
            key = _asset_key(row)
            if key is None:
                fail(number, row, "give asset (an id), external_key or file_name")
                continue
            asset = assets.get(key)
            if asset is None:
                fail(number, row, f"no asset {key[1]!r} with tasks in this project")
                continue
            name = row.get("model_version") or model_version_name
            if not isinstance(name, str) or not name.strip():
                fail(number, row, "give model_version (a version name)")
                continue
            try:
                data = row_data(row, (asset[0], asset[1]), ctx)
                version = versions.get(name)
                if version is None:
                    version = push_version_get(
                        project=project, name=name, task_type=_task_type(data), user_id=user_id
                    )
                    versions[name] = version
            except (RowError, PushError) as error:
                fail(number, row, str(error))
                continue
            if "frames" in data:
                if all(start is None for _, start, _ in asset[2]):
                    fail(number, row, "frames are for a video; this asset is an image")
                    continue
                _frames_to_tasks(data["frames"], asset[2], version.pk, video_frames)
                continue
            for task_id, _, _ in asset[2]:
                out[(task_id, version.pk)] = data
        writer.write(out)

    writer = _BatchWriter()
    # A video's frames, gathered over the whole push: {(task, version): {frame: unit}}.
    video_frames: dict[tuple[int, int], dict[int, dict]] = {}
    try:
        batch: list[tuple[int, dict]] = []
        for number, row, error in _rows(rows):
            result.rows += 1
            if error:
                fail(number, row, error)
                continue
            batch.append((number, row))
            if len(batch) >= batch_size:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
        pending = list(video_frames.items())
        for start in range(0, len(pending), batch_size):
            writer.write(
                {
                    key: {"frames": [units[index] for index in sorted(units)]}
                    for key, units in pending[start : start + batch_size]
                }
            )
    finally:
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
