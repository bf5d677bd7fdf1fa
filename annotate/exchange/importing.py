"""Turning read records into a project's data: names resolved against the project (unknown
image, category not in the schema, keypoint count not matching the skeleton), then written as
ground truth (a new annotation version per task, the task accepted) or handed to the learning
app as a model's predictions.

An import holds the records of one file, grouped by task, until they are written: the file's
size is bounded by the upload limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotate.attributes import from_text
from annotate.batching import batched
from annotate.ingest.video import VideoRejected, video_frames_add
from annotate.models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Frame,
    KeypointInstance,
    Project,
    Track,
)
from annotate.services.annotations import MAX_NUMBER

from .points_form import points_form_join
from .readers import FileRejected, ImageRecord, ImageRef, RecordError, ShapeRecord
from .readers.coco import read_coco
from .readers.cvat import read_cvat
from .readers.cvat_images import read_cvat_images
from .readers.labelstudio import read_labelstudio
from .readers.mot import read_mot
from .readers.yolo import read_yolo
from .selectors import asset_export_name, label_classes
from .shapes import HOLD_TOLERANCE, labeled_count, points_from_triples
from .validation import placed_validate
from .writers.common import without_suffix

READERS = {
    "coco": read_coco,
    "yolo": read_yolo,
    "mot": read_mot,
    "cvat": read_cvat,
    "labelstudio": read_labelstudio,
    "cvat_images": read_cvat_images,
}


class ImportRefused(Exception):
    def __init__(
        self,
        message: str,
        *,
        errors: list[dict] | None = None,
        records_total: int = 0,
        warnings: list[dict] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.records_total = records_total
        self.warnings = warnings or []

    @property
    def summary(self) -> list[dict]:
        return import_summary(self.errors, self.warnings)


class Refusal(str):
    """Why a record cannot be placed, with the kind of problem for the summary."""

    kind = "invalid"


class FrameRefusal(Refusal):
    kind = "frame"


def _refusal(record: str, message: str) -> dict:
    return _problem(record, str(message), getattr(message, "kind", "invalid"))


def _problem(record: str, message: str, kind: str) -> dict:
    """A per-record report; "kind" is given when it is not "invalid" (a plain error)."""
    problem = {"record": record, "message": message}
    if kind != "invalid":
        problem["kind"] = kind
    return problem


@dataclass
class ImportResult:
    records_total: int = 0
    records_imported: int = 0
    tasks_written: int = 0
    errors: list[dict] = field(default_factory=list)
    # Records imported without part of what the file gave them (an attribute the class does
    # not have, a segmentation polygon): {"record", "message", "kind"} like the errors.
    warnings: list[dict] = field(default_factory=list)
    frames_decoded: int = 0

    @property
    def summary(self) -> list[dict]:
        return import_summary(self.errors, self.warnings)


# What each kind of problem means, for the summary; "invalid" is everything else.
KIND_NAMES = {
    "polygon": "polygons",
    "polyline": "polylines",
    "points": "point sets",
    "mask": "masks",
    "cuboid": "cuboids",
    "ellipse": "ellipses",
    "shape": "shapes of other kinds",
    "tag": "tags (labels of a whole frame)",
    "rle": "crowd regions (iscrowd, RLE masks)",
    "attribute": "attributes the class does not have",
    "frame": "frames the video does not have",
    "rotation": "rotations of boxes (upright boxes only)",
    "prediction": "predictions (import a model's output with `as` predictions)",
    "other_annotation": "a task's other annotations (its last one is imported)",
    "keypoint_duplicate": "keypoints named twice in one object",
    "invalid": "invalid records",
}


def import_summary(errors: list[dict], warnings: list[dict]) -> list[dict]:
    """What was not imported, by kind: [{"kind", "count", "message"}], errors first."""
    out = []
    for items, verdict in ((errors, "not imported"), (warnings, "imported without it")):
        counts: dict[str, int] = defaultdict(int)
        for item in items:
            counts[item.get("kind", "invalid")] += 1
        for kind, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])):
            what = KIND_NAMES.get(kind, kind)
            if verdict == "not imported":
                message = f"{count} record(s) not imported: {what}."
            else:
                message = f"{count} record(s) imported without some of their data: {what}."
            out.append({"kind": kind, "count": count, "message": message})
    return out


@dataclass
class Placed:
    """A resolved shape: which task and frame, the class, pixel geometry."""

    task_id: int
    asset_id: int
    frame_id: int | None
    frame_index: int | None
    label_class_id: int
    label: str
    box: tuple[float, float, float, float] | None
    points: dict | None
    track: int | None
    score: float | None
    keyframe: bool = True
    record: str = ""  # where it came from, for the import report
    outside: bool = False  # the track's object is gone from this frame on
    derived: bool = False  # not in the file: the end of a track the file lists frame by frame
    occluded: bool = False
    attributes: dict = field(default_factory=dict)
    losses: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)


class _Resolver:
    """Name lookups for one project, loaded once (assets) or per video (frames, tasks)."""

    def __init__(self, project: Project) -> None:
        self.keypoint_names = project.keypoint_names if project.keypoints_enabled else []
        classes = label_classes(project)
        self.class_by_name = {c.name: c for c in classes if c.is_active}
        self.class_by_index = classes
        self.assets: dict[str, tuple] = {}
        stems: dict[str, list[tuple]] = defaultdict(list)
        for row in Asset.objects.filter(project=project).values_list(
            "id", "kind", "external_key", "original_name", "width", "height"
        ):
            info = (row[0], row[1], row[4], row[5])
            for name in {
                asset_export_name(asset_id=row[0], external_key=row[2], original_name=row[3]),
                row[3],
                row[2],
            }:
                if name:
                    self.assets.setdefault(name, info)
                    stems[without_suffix(name)].append(info)
        self.stems = {stem: infos[0] for stem, infos in stems.items() if len(set(infos)) == 1}
        self._frames: dict[int, dict[int, tuple]] = {}
        self._tasks: dict[int, list[tuple]] = {}
        self.decode_failures: dict[int, str] = {}  # video asset id -> why frames were not made
        self.frame_totals = dict(
            Asset.objects.filter(project=project, kind=Asset.Kind.VIDEO).values_list(
                "id", "frame_count"
            )
        )

    def _asset(self, name: str) -> tuple | None:
        return self.assets.get(name) or self.stems.get(name)

    def _named(self, ref: ImageRef) -> tuple | None:
        for name in (ref.asset_name, *ref.other_names):
            asset = self._asset(name)
            if asset is not None:
                return asset
        return None

    def missing_frame(self, ref: ImageRef) -> tuple[int, int] | None:
        """(video asset id, frame index) when `ref` names a frame the video has but that was
        not extracted (off the project's frame stride), else None."""
        asset, frame_index = self._locate(ref)
        if asset is None or frame_index is None or asset[1] != Asset.Kind.VIDEO:
            return None
        if frame_index in self.frames(asset[0]):
            return None
        return asset[0], frame_index

    def forget_frames(self, asset_id: int) -> None:
        self._frames.pop(asset_id, None)
        self._tasks.pop(asset_id, None)

    def _locate(self, ref: ImageRef) -> tuple[tuple | None, int | None]:
        asset = self._named(ref)
        frame_index = ref.frame_index
        if asset is None and frame_index is None and "/" in ref.asset_name:
            # Frames named <video>/<frame index>[.jpg] (YOLO, PoseTrack-style file names);
            # the video by its path, else by its folder's name.
            video, _, last = ref.asset_name.rpartition("/")
            last = without_suffix(last)
            if last.isdigit():
                asset = self._asset(video) or self._asset(video.rsplit("/", 1)[-1])
                frame_index = int(last) if asset else None
        return asset, frame_index

    def frames(self, asset_id: int) -> dict[int, tuple]:
        if asset_id not in self._frames:
            self._frames[asset_id] = {
                index: (frame_id, w, h)
                for frame_id, index, w, h in Frame.objects.filter(asset_id=asset_id).values_list(
                    "id", "index", "width", "height"
                )
            }
        return self._frames[asset_id]

    def tasks(self, asset_id: int) -> list[tuple]:
        if asset_id not in self._tasks:
            self._tasks[asset_id] = list(
                AnnotationTask.objects.filter(asset_id=asset_id, gold_of__isnull=True)
                .order_by("frame_start", "id")
                .values_list("id", "kind", "frame_start", "frame_end")
            )
        return self._tasks[asset_id]

    def place_image(self, ref: ImageRef) -> tuple[list[int], dict] | str:
        """([task ids], where) for an image reference, or the reason it is unknown.
        where = {asset_id, frame_id, frame_index, width, height}."""
        asset, frame_index = self._locate(ref)
        if asset is None:
            names = " or ".join(repr(n) for n in (ref.asset_name, *ref.other_names))
            return f"Unknown image {names}: no asset of this project has that name."
        asset_id, kind, width, height = asset
        if ref.whole_video or (kind == Asset.Kind.VIDEO and frame_index is None):
            if kind != Asset.Kind.VIDEO:
                return f"{ref.asset_name!r} is an image, not a video."
            task_ids = [t[0] for t in self.tasks(asset_id)]
            return task_ids, {"asset_id": asset_id}
        if kind == Asset.Kind.IMAGE:
            if frame_index is not None:
                return f"{ref.asset_name!r} is an image, not a video."
            task_ids = [t[0] for t in self.tasks(asset_id) if t[1] == AnnotationTask.Kind.IMAGE]
            if not task_ids:
                return f"Image {ref.asset_name!r} has no annotation task."
            where = {"asset_id": asset_id, "frame_id": None, "frame_index": None}
            return task_ids[:1], {**where, "width": width, "height": height}
        frame = self.frames(asset_id).get(frame_index)
        if frame is None:
            reason = self.decode_failures.get(asset_id)
            if reason:
                return FrameRefusal(
                    f"Frame {frame_index} of video {ref.asset_name!r} was not extracted and "
                    f"cannot be decoded now: {reason}"
                )
            return FrameRefusal(
                f"Video {ref.asset_name!r} has no frame {frame_index}"
                + (
                    f": it has {self.frame_totals[asset_id]} frames."
                    if self.frame_totals.get(asset_id)
                    else "."
                )
            )
        task_ids = [
            t[0]
            for t in self.tasks(asset_id)
            if t[1] == AnnotationTask.Kind.VIDEO and t[2] <= frame_index <= t[3]
        ]
        if not task_ids:
            return f"Frame {frame_index} of {ref.asset_name!r} is in no annotation task."
        where = {"asset_id": asset_id, "frame_id": frame[0], "frame_index": frame_index}
        return task_ids[:1], {**where, "width": frame[1], "height": frame[2]}

    def place_shape(self, record: ShapeRecord) -> Placed | str:
        placed = self.place_image(record.image)
        if isinstance(placed, str):
            return placed
        task_ids, where = placed
        if "frame_id" not in where:
            return "A shape needs a frame of the video."
        if record.label is not None:
            label_class = self.class_by_name.get(record.label)
            if label_class is None:
                return f"Category {record.label!r} is not in the project's schema."
        else:
            index = record.label_index or 0
            if index >= len(self.class_by_index) or not self.class_by_index[index].is_active:
                return f"Class number {index} is not in the project's schema."
            label_class = self.class_by_index[index]
        width, height = where["width"], where["height"]
        scale_x, scale_y = (width, height) if record.normalized else (1.0, 1.0)
        if record.normalized and not (width and height):
            return "The image's size is unknown, so normalised coordinates cannot be placed."
        box = None
        if record.box is not None:
            x, y, w, h = record.box
            box = (x * scale_x, y * scale_y, w * scale_x, h * scale_y)
            if not (box[2] > 0 and box[3] > 0):
                return "The box has no size (width and height must be > 0)."
        points = None
        if record.named_points is not None:
            unknown = sorted(set(record.named_points) - set(self.keypoint_names))
            if unknown:
                return (
                    f"Keypoints {', '.join(map(repr, unknown))} are not in the project's "
                    f"skeleton ({len(self.keypoint_names)} keypoints)."
                )
            named = record.named_points
            record.keypoints = [
                value for name in self.keypoint_names for value in (named.get(name) or [0, 0, 0])
            ]
        if record.keypoints is not None:
            names = self.keypoint_names
            if len(record.keypoints) != 3 * len(names):
                have = len(record.keypoints)
                return (
                    f"{have} keypoint values ({have / 3:g} keypoints); the project's skeleton "
                    f"has {len(names)} keypoints ({3 * len(names)} values)."
                )
            flat = list(record.keypoints)
            if any(v not in (0, 1, 2) for v in flat[2::3]):  # NaN and infinity too
                return "Keypoint visibility must be 0, 1 or 2."
            for i in range(0, len(flat), 3):
                flat[i] *= scale_x
                flat[i + 1] *= scale_y
            if labeled_count(flat) or record.outside:
                points = points_from_triples(flat, names)
        if box is None and points is None:
            return "Nothing to import: no box and no labeled keypoint."
        attributes, losses = _class_attributes(label_class, record.attributes or {})
        is_video = where["frame_id"] is not None
        return Placed(
            task_id=task_ids[0],
            asset_id=where["asset_id"],
            frame_id=where["frame_id"],
            frame_index=where["frame_index"],
            label_class_id=label_class.id,
            label=label_class.name,
            box=box,
            points=points,
            track=record.track if is_video else None,
            score=record.score,
            keyframe=record.keyframe,
            record=record.record,
            outside=record.outside and is_video and record.track is not None,
            occluded=record.occluded,
            attributes=attributes,
            losses=[*record.losses, *losses],
        )


def _class_attributes(label_class, given: dict) -> tuple[dict, list[tuple[str, str]]]:
    """The values of the class's attributes (text read as the attribute's type); the names
    the class does not have are dropped, and said."""
    specs = {spec["name"]: spec for spec in label_class.attributes or []}
    values, unknown = {}, []
    for name, value in given.items():
        spec = specs.get(name)
        if spec is None:
            unknown.append(name)
            continue
        values[name] = from_text(spec, value) if isinstance(value, str) else value
    losses = []
    if unknown:
        known = ", ".join(specs) or "none"
        losses.append(
            (
                "attribute",
                f"Attribute(s) {', '.join(map(repr, sorted(unknown)))} not kept: the class "
                f"'{label_class.name}' does not have them (its attributes: {known}); add them "
                "to the class and import again to keep them.",
            )
        )
    return values, losses


def import_file(
    stream: BinaryIO,
    *,
    project: Project,
    format: str,
    mode: str,
    user=None,
    model_version_name: str = "",
    skip_invalid: bool = False,
    sink: Callable[..., int] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> ImportResult:
    """Read, resolve and write one file. Raises ImportRefused (nothing written) when the file
    is unreadable, or has record errors and skip_invalid is off."""
    resolver = _Resolver(project)
    result = ImportResult()
    shapes: dict[int, list[Placed]] = defaultdict(list)
    covered: set[int] = set()
    try:
        records = list(READERS[format](stream))
    except FileRejected as rejected:
        raise ImportRefused(str(rejected)) from None
    records = points_form_join(
        records, class_names=resolver.class_by_name, keypoint_names=resolver.keypoint_names
    )
    if on_progress:
        on_progress(0.05)  # a heartbeat: decoding missing frames may take a while
    result.frames_decoded = _decode_missing_frames(records, resolver)
    if on_progress:
        on_progress(0.1)
    for record in records:
        if isinstance(record, RecordError):
            result.records_total += 1
            result.errors.append(_problem(record.record, record.message, record.kind))
        elif isinstance(record, ImageRecord):
            placed = resolver.place_image(record.image)
            if isinstance(placed, str):
                result.errors.append(_refusal(record.record, placed))
            else:
                covered.update(placed[0])
        else:
            result.records_total += 1
            placed = resolver.place_shape(record)
            if isinstance(placed, str):
                result.errors.append(_refusal(record.record, placed))
            else:
                shapes[placed.task_id].append(placed)
                result.records_imported += 1
    _join_box_and_skeleton_tracks(shapes)
    _number_tracks(shapes)
    if mode == "predictions":
        for placed_shapes in shapes.values():  # a prediction is a shape, never an absence
            placed_shapes[:] = [p for p in placed_shapes if not p.outside]
    refused = placed_validate(
        project=project, shapes=shapes, format=format, predictions=mode == "predictions"
    )
    if mode != "predictions":
        # The tracks' ends are added to what passed, and checked like everything else.
        ended = _as_track_keyframes(shapes, resolver, every_frame=format in EVERY_FRAME_FORMATS)
        if ended:
            refused += placed_validate(
                project=project,
                shapes={task_id: shapes[task_id] for task_id in ended},
                format=format,
                predictions=False,
            )
    result.errors.extend(refused)
    result.records_imported -= len([e for e in refused if not e.get("derived")])
    for error in refused:
        error.pop("derived", None)
    for placed_shapes in shapes.values():
        for shape in placed_shapes:
            for kind, message in shape.losses:
                result.warnings.append(_problem(shape.record, message, kind))
    if result.records_total and not result.records_imported:
        raise ImportRefused(
            f"None of the file's {result.records_total} record(s) can be imported; nothing "
            "was imported. The report lists each record's problem.",
            errors=result.errors,
            records_total=result.records_total,
            warnings=result.warnings,
        )
    if result.errors and not skip_invalid:
        raise ImportRefused(
            f"{len(result.errors)} record(s) have errors; nothing was imported.",
            errors=result.errors,
            records_total=result.records_total,
            warnings=result.warnings,
        )
    if on_progress:
        on_progress(0.5)
    # A task whose every shape was refused keeps its labels: it is not overwritten by nothing.
    emptied = {task_id for task_id, placed in shapes.items() if not placed}
    task_ids = sorted((covered | set(shapes)) - emptied)
    if mode == "predictions":
        if sink is None:
            raise ImportRefused("Prediction import is not configured.")
        predictions = {task_id: _prediction_units(shapes.get(task_id, [])) for task_id in task_ids}
        sink(
            project_id=project.pk,
            model_version_name=model_version_name,
            user_id=getattr(user, "pk", None),
            predictions=predictions,
        )
    else:
        _write_ground_truth(task_ids, shapes, user=user, on_progress=on_progress)
    result.tasks_written = len(task_ids)
    return result


def _decode_missing_frames(records: list, resolver: _Resolver) -> int:
    """Frames the file annotates that the video's extraction left out (off the project's
    frame stride) are decoded now, so that no annotated frame is lost. Returns how many."""
    wanted: dict[int, set[int]] = defaultdict(set)
    for record in records:
        if isinstance(record, ShapeRecord):
            missing = resolver.missing_frame(record.image)
            if missing is not None:
                wanted[missing[0]].add(missing[1])
    added = 0
    for asset_id, indices in sorted(wanted.items()):
        try:
            added += len(video_frames_add(asset_id=asset_id, indices=indices))
        except VideoRejected as error:
            resolver.decode_failures[asset_id] = str(error)
        resolver.forget_frames(asset_id)
    return added


def _holds_points(box: tuple, points: dict) -> bool | None:
    """Whether the box holds every labeled point (None: no labeled point to tell)."""
    x, y, w, h = box
    t = HOLD_TOLERANCE
    labeled = [p for p in points.values() if p and len(p) > 2 and p[2]]
    if not labeled:
        return None
    return all(x - t <= px <= x + w + t and y - t <= py <= y + h + t for px, py, _ in labeled)


def _join_box_and_skeleton_tracks(shapes: dict[int, list[Placed]]) -> None:
    """CVAT keeps one person's box track and skeleton track apart unless they are grouped.
    A skeleton-only track whose labeled points lie inside one box-only track's boxes (of the
    same class) on every frame both are on, and that no other box track holds as well, is
    that object: its shapes join the box track."""
    by_asset: dict[int, dict] = defaultdict(lambda: defaultdict(list))
    for placed in shapes.values():
        for shape in placed:
            if shape.track is not None and shape.frame_index is not None:
                by_asset[shape.asset_id][shape.track].append(shape)
    for tracks in by_asset.values():
        boxes_at: dict[int, list[tuple]] = defaultdict(list)  # frame -> [(key, class, box)]
        skeleton_only = []
        for key, run in tracks.items():
            has_box = any(s.box is not None for s in run)
            has_points = any(s.points is not None for s in run)
            if has_box and not has_points:
                for s in run:
                    if not s.outside:
                        boxes_at[s.frame_index].append((key, s.label_class_id, s.box))
            elif has_points and not has_box:
                skeleton_only.append((key, run))
        taken = set()
        for _key, run in skeleton_only:
            held: dict = defaultdict(int)
            failed: set = set()
            for s in run:
                if s.outside:
                    continue
                for box_key, class_id, box in boxes_at.get(s.frame_index, []):
                    if class_id != s.label_class_id or box_key in taken:
                        continue
                    holds = _holds_points(box, s.points)
                    if holds is False:
                        failed.add(box_key)
                    elif holds:
                        held[box_key] += 1
            ranked = sorted(
                ((count, box_key) for box_key, count in held.items() if box_key not in failed),
                key=lambda pair: -pair[0],
            )
            if ranked and (len(ranked) == 1 or ranked[0][0] > ranked[1][0]):
                box_key = ranked[0][1]
                taken.add(box_key)
                for s in run:
                    s.track = box_key


def _preferred_number(key: int | str) -> int | None:
    text = str(key).rsplit(" ", 1)[-1]
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_NUMBER else None


def _number_tracks(shapes: dict[int, list[Placed]]) -> None:
    """The file's track ids become track numbers of the video, mapped, never copied blindly:
    an id that is a valid number (from 1) and not used by the video's other tasks keeps its
    number (a round trip of our own export changes nothing); the others (CVAT's id 0, ids
    taken by other tasks or by another id of the file) get the next free numbers."""
    keys: dict[int, list] = defaultdict(list)
    tasks_of: dict[int, set[int]] = defaultdict(set)
    for task_id, placed in shapes.items():
        for shape in placed:
            if shape.track is not None:
                if shape.track not in keys[shape.asset_id]:
                    keys[shape.asset_id].append(shape.track)
                tasks_of[shape.asset_id].add(task_id)
    numbers: dict[tuple[int, int | str], int] = {}
    for asset_id, wanted in keys.items():
        existing = set(Track.objects.filter(asset_id=asset_id).values_list("number", flat=True))
        elsewhere = set()
        for model in (Box, KeypointInstance):
            elsewhere.update(
                model.objects.filter(track__asset_id=asset_id)
                .exclude(annotation__task_id__in=tasks_of[asset_id])
                .values_list("track__number", flat=True)
                .distinct()
            )
        used = set(elsewhere)
        later = []
        for key in wanted:
            number = _preferred_number(key)
            if number is None or number in used:
                later.append(key)
                continue
            used.add(number)
            numbers[(asset_id, key)] = number
        following = max(used | existing, default=0) + 1
        for key in later:
            numbers[(asset_id, key)] = following
            following += 1
    for placed in shapes.values():
        for shape in placed:
            if shape.track is not None:
                shape.track = numbers[(shape.asset_id, shape.track)]


# Formats that list a tracked object on every frame where it is seen, and only there: a frame
# without it means it is gone. CVAT says so itself (outside) and may give keyframes only.
EVERY_FRAME_FORMATS = frozenset({"coco", "yolo", "mot"})


def _as_track_keyframes(
    shapes: dict[int, list[Placed]], resolver: _Resolver, *, every_frame: bool
) -> set[int]:
    """Make each task's tracked shapes what the editor keeps (annotate.track_shapes): a track
    starts with a keyframe in every segment and after every outside one, and in a format that
    lists every frame, each stretch of frames ends with an outside keyframe on the segment's
    next frame, so that a track is not carried on where the file says it is gone. Returns the
    tasks that got such ends."""
    ended = set()
    for task_id, placed in shapes.items():
        tracked = [p for p in placed if p.track is not None and p.frame_index is not None]
        if not tracked:
            continue
        asset_id = tracked[0].asset_id
        start, end = next(t[2:4] for t in resolver.tasks(asset_id) if t[0] == task_id)
        frames = resolver.frames(asset_id)
        indices = [i for i in sorted(frames) if start <= i <= end]
        following = dict(zip(indices, indices[1:], strict=False))
        closers = []
        for kind, other in (("box", "points"), ("points", "box")):
            runs: dict[int, list[Placed]] = defaultdict(list)
            for shape in tracked:
                if getattr(shape, kind) is not None:
                    runs[shape.track].append(shape)
            for run in runs.values():
                run.sort(key=lambda p: p.frame_index)
                for before, shape in zip([None, *run], run, strict=False):
                    if before is None or before.outside:
                        shape.keyframe = True
                if not every_frame:
                    continue
                for shape, after in zip(run, [*run[1:], None], strict=True):
                    next_index = following.get(shape.frame_index)
                    if shape.outside or next_index is None:
                        continue
                    if after is not None and after.frame_index == next_index:
                        continue
                    closers.append(
                        replace(
                            shape,
                            frame_id=frames[next_index][0],
                            frame_index=next_index,
                            outside=True,
                            keyframe=True,
                            record=f"{shape.record} (where its track ends)",
                            derived=True,
                            **{other: None},
                        )
                    )
        if closers:
            placed.extend(closers)
            ended.add(task_id)
    return ended


def _prediction_units(placed: list[Placed]) -> list[dict]:
    """Per image (frame_index None) or frame: {"frame_index", "boxes", "keypoints"}."""
    units: dict[int | None, dict] = {}
    for shape in placed:
        unit = units.setdefault(
            shape.frame_index, {"frame_index": shape.frame_index, "boxes": [], "keypoints": []}
        )
        if shape.box is not None:
            x, y, w, h = shape.box
            unit["boxes"].append(
                {
                    "label": shape.label,
                    "x": x,
                    "y": y,
                    "w": w,
                    "h": h,
                    "score": shape.score,
                    "track": shape.track,
                }
            )
        if shape.points is not None:
            unit["keypoints"].append(
                {
                    "label": shape.label,
                    "points": shape.points,
                    "score": shape.score,
                    "track": shape.track,
                }
            )
    return [units[key] for key in sorted(units, key=lambda k: -1 if k is None else k)]


WRITE_BATCH = 1000  # tasks per round of bulk inserts


def _track_ids(shapes: dict[int, list[Placed]]) -> dict[tuple[int, int], int]:
    """Track rows for every (video, number) the shapes use: existing ones, the rest created
    (with the class of their first shape)."""
    wanted: dict[tuple[int, int], int] = {}
    for placed in shapes.values():
        for shape in placed:
            if shape.track is not None:
                wanted.setdefault((shape.asset_id, shape.track), shape.label_class_id)
    if not wanted:
        return {}
    assets = {asset_id for asset_id, _ in wanted}

    def existing() -> dict[tuple[int, int], int]:
        rows = Track.objects.filter(asset_id__in=assets).values_list("asset_id", "number", "id")
        return {(a, n): pk for a, n, pk in rows}

    found = existing()
    missing = [
        Track(asset_id=a, number=n, label_class_id=c)
        for (a, n), c in wanted.items()
        if (a, n) not in found
    ]
    if missing:
        # A concurrent import may make the same track: keep theirs.
        Track.objects.bulk_create(missing, ignore_conflicts=True)
        found = existing()
    return found


def _write_ground_truth(
    task_ids: list[int],
    shapes: dict[int, list[Placed]],
    *,
    user,
    on_progress: Callable[[float], None] | None,
) -> None:
    """One new version of kind "import" per task, with its shapes; the tasks become accepted.
    All in one transaction (an import is written whole or not at all), with bulk inserts
    per batch of tasks so that large imports take a few queries per thousand tasks."""
    now = timezone.now()
    with transaction.atomic():
        for batch in batched(task_ids, WRITE_BATCH):
            # Locks in id order, so two imports over the same tasks cannot deadlock.
            list(
                AnnotationTask.objects.select_for_update()
                .filter(pk__in=batch)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        tracks = _track_ids(shapes)
        for done, batch in enumerate(batched(task_ids, WRITE_BATCH)):
            latest = dict(
                Annotation.objects.filter(task_id__in=batch)
                .values("task_id")
                .annotate(v=Max("version"))
                .values_list("task_id", "v")
            )
            annotations = Annotation.objects.bulk_create(
                Annotation(
                    task_id=task_id,
                    author=user,
                    version=(latest.get(task_id) or 0) + 1,
                    base_version=latest.get(task_id),
                    kind=Annotation.Kind.IMPORT,
                )
                for task_id in batch
            )
            boxes, skeletons = [], []
            for annotation in annotations:
                for shape in shapes.get(annotation.task_id, []):
                    common = {
                        "annotation": annotation,
                        "frame_id": shape.frame_id,
                        "label_class_id": shape.label_class_id,
                        "track_id": (
                            tracks[(shape.asset_id, shape.track)]
                            if shape.track is not None
                            else None
                        ),
                        "keyframe": shape.keyframe,
                        "outside": shape.outside,
                        "occluded": shape.occluded,
                        "attributes": shape.attributes,
                    }
                    if shape.box is not None:
                        x, y, w, h = shape.box
                        boxes.append(Box(x=x, y=y, w=w, h=h, **common))
                    if shape.points is not None:
                        skeletons.append(KeypointInstance(points=shape.points, **common))
            Box.objects.bulk_create(boxes, batch_size=5000)
            KeypointInstance.objects.bulk_create(skeletons, batch_size=5000)
            AnnotationTask.objects.filter(pk__in=batch).update(
                state=AnnotationTask.State.ACCEPTED,
                submitted_at=now,
                reviewed_at=now,
                lease_user=None,
                lease_expires_at=None,
            )
            if on_progress:
                on_progress(0.5 + 0.5 * (done + 1) * WRITE_BATCH / max(len(task_ids), 1))
