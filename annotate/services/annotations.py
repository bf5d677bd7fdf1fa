"""Saving a task's labels: every save validates every shape and writes a NEW Annotation
version with its shapes in one transaction, so no save ever overwrites earlier work.

Clipping rule (said in the error messages too): a box must lie within the image,
[0, width] x [0, height] in pixels, with a tolerance of 0.5 px on every side; shapes within
the tolerance are clipped to the image edge when stored. Keypoints follow the same rule.

On a video a tracked shape is a keyframe of its track, or an outside keyframe (the object is
gone from that frame on); annotate.track_shapes says where the track is on the frames between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max

from annotate.attributes import complete, value_problem
from annotate.events import labels_submitted
from annotate.image_bounds import EDGE_TOLERANCE_PX, clip_box, clip_point, clipping_rule

from ..models import (
    Annotation,
    AnnotationTask,
    Box,
    Frame,
    KeypointInstance,
    LabelClass,
    ShapeSource,
    Track,
)
from .errors import SchemaChanged, ShapeValidationError, TaskNotEditable, VersionConflict

MAX_SHAPES_PER_SAVE = 20_000
MAX_TRACKS_PER_SAVE = 5_000
VISIBILITIES = (0, 1, 2)
MAX_NUMBER = 2**31 - 1  # track and version numbers are PostgreSQL integers


def latest_version(task: AnnotationTask, author=None) -> int | None:
    """The newest version of the task, or of `author`'s own chain of it (see
    annotation_save's own_chain)."""
    versions = task.annotations.all() if author is None else task.annotations.filter(author=author)
    return versions.aggregate(v=Max("version"))["v"]


@dataclass
class _Checked:
    """Shapes that passed validation, ready to be written."""

    tracks: dict[int, LabelClass] = field(default_factory=dict)
    boxes: list[dict] = field(default_factory=list)
    keypoints: list[dict] = field(default_factory=list)


class _Validator:
    """Collects field-level errors ("boxes[3].w": [...]) over the whole payload, then
    separates problems of form (400) from a schema that changed under the annotator (409)."""

    def __init__(
        self,
        task: AnnotationTask,
        *,
        classes: dict[str, LabelClass] | None = None,
        frames: dict[int, Frame] | None = None,
    ) -> None:
        self.task = task
        self.project = task.project
        self.errors: dict[str, list[str]] = {}
        self.schema_errors: dict[str, list[str]] = {}
        if classes is None:
            classes = {c.name: c for c in LabelClass.objects.filter(project=self.project)}
        self.classes = classes
        self.keypoint_names = set(self.project.keypoint_names)
        self.is_video = task.kind == AnnotationTask.Kind.VIDEO
        self.frames: dict[int, Frame] = {}
        if self.is_video:
            if frames is None:
                frames = {
                    f.pk: f
                    for f in Frame.objects.filter(
                        asset_id=task.asset_id,
                        index__gte=task.frame_start,
                        index__lte=task.frame_end,
                    )
                }
            # Only the frames of this task's segment: a shape elsewhere is refused.
            self.frames = {
                pk: f for pk, f in frames.items() if task.frame_start <= f.index <= task.frame_end
            }

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def schema(self, path: str, message: str) -> None:
        self.schema_errors.setdefault(path, []).append(message)

    # -- pieces ------------------------------------------------------------------------

    def number(self, value: object, path: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "Must be a number.")
            return None
        if not math.isfinite(value):
            self.add(path, "Must be a finite number.")
            return None
        return float(value)

    def label(self, value: object, path: str) -> LabelClass | None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, "Choose a class.")
            return None
        cls = self.classes.get(value)
        if cls is None or not cls.is_active:
            self.schema(
                path, f"The class '{value}' is no longer in this project's schema; reload it."
            )
            return None
        return cls

    def frame(self, value: object, path: str) -> tuple[Frame | None, int, int] | None:
        """(frame, width, height) of the image the shape is drawn on."""
        if not self.is_video:
            if value is not None:
                self.add(path, "An image task has no frames: leave the frame empty.")
                return None
            asset = self.task.asset
            if not asset.width or not asset.height:
                self.add(path, "The image's size is not known yet; it is still being processed.")
                return None
            return None, asset.width, asset.height
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, "Give the frame id of this video segment.")
            return None
        frame = self.frames.get(value)
        if frame is None:
            self.add(
                path,
                f"Frame {value} is not in this task's segment "
                f"(frames {self.task.frame_start}-{self.task.frame_end} of this video).",
            )
            return None
        return frame, frame.width, frame.height

    def source(self, shape: dict, path: str) -> tuple[str, float | None]:
        source = shape.get("source", ShapeSource.HUMAN)
        if source not in ShapeSource.values:
            self.add(f"{path}.source", "Use 'human', 'model' or 'propagation'.")
            source = ShapeSource.HUMAN
        confidence = shape.get("confidence")
        if confidence is not None:
            confidence = self.number(confidence, f"{path}.confidence")
            if confidence is not None and not 0 <= confidence <= 1:
                self.add(f"{path}.confidence", "Must be between 0 and 1.")
                confidence = None
        if source == ShapeSource.MODEL and confidence is None:
            self.add(f"{path}.confidence", "A model's shape needs a confidence between 0 and 1.")
        elif source == ShapeSource.PROPAGATION and confidence is None:
            self.add(f"{path}.confidence", "A propagated shape needs a confidence between 0 and 1.")
        return source, confidence

    def track(self, value: object, path: str, cls: LabelClass | None, declared: dict) -> int | None:
        if value is None:
            return None
        if not self.is_video:
            self.add(path, "Tracks belong to video tasks; an image has none.")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.add(path, "A track number is a whole number from 1.")
            return None
        if value > MAX_NUMBER:
            self.add(path, f"A track number is at most {MAX_NUMBER}.")
            return None
        if value not in declared:
            self.add(path, f"Track {value} is not listed in this save's tracks.")
            return None
        track_cls = declared[value]
        if cls is not None and track_cls is not None and track_cls.pk != cls.pk:
            self.add(
                path.rsplit(".", 1)[0] + ".label",
                f"Track {value} is a '{track_cls.name}'; its shapes must have that class.",
            )
        return value

    def keyframe(self, shape: dict, path: str) -> bool:
        value = shape.get("keyframe", True)
        if not isinstance(value, bool):
            self.add(f"{path}.keyframe", "Must be true or false.")
            return True
        return value

    def outside(self, shape: dict, path: str, keyframe: bool) -> bool:
        """An outside keyframe: the tracked object is gone from this frame until the track's
        next keyframe (annotate.track_shapes)."""
        value = shape.get("outside", False)
        if not isinstance(value, bool):
            self.add(f"{path}.outside", "Must be true or false.")
            return False
        if value and shape.get("track") is None:
            self.add(
                f"{path}.outside",
                "Only a track's shape can be outside (the object left the view); "
                "delete an untracked shape instead.",
            )
        elif value and not keyframe:
            self.add(
                f"{path}.keyframe",
                "An outside shape is a keyframe: it says from which frame the object is gone.",
            )
        return value

    def occluded(self, shape: dict, path: str) -> bool:
        value = shape.get("occluded", False)
        if not isinstance(value, bool):
            self.add(f"{path}.occluded", "Must be true or false.")
            return False
        return value

    def attributes(self, shape: dict, path: str, cls: LabelClass | None) -> dict:
        """The shape's attribute values, checked against its class's schema; the schema's
        defaults fill in what the shape leaves out."""
        value = shape.get("attributes", {})
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.add(f"{path}.attributes", "Must be an object {name: value}.")
            return {}
        if cls is None:
            return {}
        schema = cls.attributes or []
        specs = {spec["name"]: spec for spec in schema}
        for name in value:
            if name not in specs:
                known = ", ".join(specs) or "none"
                self.schema(
                    f"{path}.attributes.{name}",
                    f"'{name}' is not an attribute of the class '{cls.name}' (its attributes: "
                    f"{known}); reload the schema.",
                )
        for name, spec in specs.items():
            if name in value:
                problem = value_problem(spec, value[name])
                if problem:
                    self.add(f"{path}.attributes.{name}", problem)
        return complete(schema, {k: v for k, v in value.items() if k in specs})

    def immutable_agree(self, kind: str, rows: list[tuple[str, dict]]) -> None:
        """An attribute that is not mutable has one value along a whole track."""
        first: dict[int, tuple[str, dict]] = {}
        for path, row in rows:
            if row["track"] is None or row["outside"]:
                continue
            number = row["track"]
            if number not in first:
                first[number] = (path, row)
                continue
            for spec in row["label_class"].attributes or []:
                if spec.get("mutable"):
                    continue
                name = spec["name"]
                if row["attributes"].get(name) != first[number][1]["attributes"].get(name):
                    self.add(
                        f"{path}.attributes.{name}",
                        f"'{name}' is not mutable: track {number}'s {kind}s all have the value "
                        f"of its first one ({first[number][1]['attributes'].get(name)!r}).",
                    )

    # -- whole payload -----------------------------------------------------------------

    def check(self, payload: object) -> _Checked:
        checked = _Checked()
        if not isinstance(payload, dict):
            self.add("payload", "Must be an object with 'tracks', 'boxes' and 'keypoints'.")
            return checked
        unknown = set(payload) - {"tracks", "boxes", "keypoints"}
        for key in sorted(unknown):
            self.add(key, "Unknown field.")
        lists = {}
        for key in ("tracks", "boxes", "keypoints"):
            value = payload.get(key, [])
            if not isinstance(value, list):
                self.add(key, "Must be a list.")
                value = []
            lists[key] = value
        if len(lists["tracks"]) > MAX_TRACKS_PER_SAVE:
            self.add("tracks", f"At most {MAX_TRACKS_PER_SAVE} tracks in one save.")
            return checked
        if len(lists["boxes"]) + len(lists["keypoints"]) > MAX_SHAPES_PER_SAVE:
            self.add("boxes", f"At most {MAX_SHAPES_PER_SAVE} shapes in one save.")
            return checked
        if lists["boxes"] and not self.project.box_enabled:
            self.schema("boxes", "Boxes are turned off in this project's schema.")
        if lists["keypoints"] and not self.project.keypoints_enabled:
            self.schema("keypoints", "Keypoints are turned off in this project's schema.")
        if lists["tracks"] and not self.project.tracks_enabled:
            self.schema("tracks", "Video tracks are turned off in this project's schema.")

        declared: dict[int, LabelClass | None] = {}
        for i, track in enumerate(lists["tracks"]):
            path = f"tracks[{i}]"
            if not isinstance(track, dict):
                self.add(path, "Must be an object with 'number' and 'label'.")
                continue
            number = track.get("number")
            if not self.is_video:
                self.add(path, "Tracks belong to video tasks; an image has none.")
                continue
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                self.add(f"{path}.number", "A track number is a whole number from 1.")
                continue
            if number > MAX_NUMBER:
                self.add(f"{path}.number", f"A track number is at most {MAX_NUMBER}.")
                continue
            if number in declared:
                self.add(f"{path}.number", f"Track {number} is listed twice.")
                continue
            declared[number] = self.label(track.get("label"), f"{path}.label")
        checked.tracks = {n: c for n, c in declared.items() if c is not None}

        seen: set[tuple[str, int, int | None]] = set()
        box_rows, skeleton_rows = [], []
        for i, box in enumerate(lists["boxes"]):
            row = self.box(box, f"boxes[{i}]", declared, seen)
            if row:
                checked.boxes.append(row)
                box_rows.append((f"boxes[{i}]", row))
        for i, instance in enumerate(lists["keypoints"]):
            row = self.keypoint_instance(instance, f"keypoints[{i}]", declared, seen)
            if row:
                checked.keypoints.append(row)
                skeleton_rows.append((f"keypoints[{i}]", row))
        for kind, rows in (("box", box_rows), ("skeleton", skeleton_rows)):
            rows.sort(key=lambda pair: pair[1]["frame"].index if pair[1]["frame"] else 0)
            self.immutable_agree(kind, rows)
        return checked

    def one_per_frame(self, kind: str, track: int | None, frame, path: str, seen: set) -> None:
        if track is None or frame is None:
            return
        key = (kind, track, frame.pk)
        if key in seen:
            self.add(f"{path}.track", f"Track {track} already has a {kind} on this frame.")
        seen.add(key)

    def box(self, box: object, path: str, declared: dict, seen: set) -> dict | None:
        if not isinstance(box, dict):
            self.add(path, "Must be an object.")
            return None
        where = self.frame(box.get("frame"), f"{path}.frame")
        cls = self.label(box.get("label"), f"{path}.label")
        values = {k: self.number(box.get(k), f"{path}.{k}") for k in ("x", "y", "w", "h")}
        track = self.track(box.get("track"), f"{path}.track", cls, declared)
        keyframe = self.keyframe(box, path)
        outside = self.outside(box, path, keyframe)
        source, confidence = self.source(box, path)
        occluded = self.occluded(box, path)
        attributes = self.attributes(box, path, cls)
        if values["w"] is not None and values["w"] <= 0:
            self.add(f"{path}.w", "The width must be greater than 0.")
            values["w"] = None
        if values["h"] is not None and values["h"] <= 0:
            self.add(f"{path}.h", "The height must be greater than 0.")
            values["h"] = None
        if where is None or cls is None or None in values.values():
            return None
        frame, width, height = where
        x, y, w, h = values["x"], values["y"], values["w"], values["h"]
        tol = EDGE_TOLERANCE_PX
        rule = clipping_rule(width, height)
        bad = False
        if x < -tol or x > width + tol:
            self.add(f"{path}.x", f"The box {rule}.")
            bad = True
        if y < -tol or y > height + tol:
            self.add(f"{path}.y", f"The box {rule}.")
            bad = True
        if not bad and x + w > width + tol:
            self.add(f"{path}.w", f"The box {rule}.")
            bad = True
        if not bad and y + h > height + tol:
            self.add(f"{path}.h", f"The box {rule}.")
            bad = True
        if bad:
            return None
        clipped = clip_box(x, y, w, h, width, height)
        if clipped is None:
            self.add(f"{path}.w", f"Clipped to the image the box has no area; it {rule}.")
            return None
        left, top, clipped_w, clipped_h = clipped
        self.one_per_frame("box", track, frame, path, seen)
        return {
            "frame": frame,
            "label_class": cls,
            "track": track,
            "x": left,
            "y": top,
            "w": clipped_w,
            "h": clipped_h,
            "keyframe": keyframe,
            "outside": outside,
            "source": source,
            "confidence": confidence,
            "occluded": occluded,
            "attributes": attributes,
        }

    def keypoint_instance(self, inst: object, path: str, declared: dict, seen: set) -> dict | None:
        if not isinstance(inst, dict):
            self.add(path, "Must be an object.")
            return None
        where = self.frame(inst.get("frame"), f"{path}.frame")
        cls = self.label(inst.get("label"), f"{path}.label")
        track = self.track(inst.get("track"), f"{path}.track", cls, declared)
        keyframe = self.keyframe(inst, path)
        outside = self.outside(inst, path, keyframe)
        source, confidence = self.source(inst, path)
        occluded = self.occluded(inst, path)
        attributes = self.attributes(inst, path, cls)
        points = inst.get("points")
        if not isinstance(points, dict):
            self.add(f"{path}.points", "Must be an object {name: [x, y, visibility]}.")
            return None
        clean: dict[str, list[float | int]] = {}
        errors_before = len(self.errors)
        schema_before = len(self.schema_errors)
        for name, value in points.items():
            ppath = f"{path}.points.{name}"
            if name not in self.keypoint_names:
                # A name the skeleton never had is a malformed save, not a schema change.
                self.add(
                    ppath,
                    f"'{name}' is not a keypoint of this project's skeleton; its keypoints "
                    f"are {', '.join(self.project.keypoint_names)}.",
                )
                continue
            if not isinstance(value, list | tuple) or len(value) != 3:
                self.add(ppath, "Must be [x, y, visibility].")
                continue
            v = value[2]
            if isinstance(v, bool) or v not in VISIBILITIES:
                self.add(ppath, "Visibility must be 2 (visible), 1 (occluded) or 0 (not labeled).")
                continue
            if v == 0:
                clean[name] = [0, 0, 0]  # COCO: an unlabeled point has no position
                continue
            px = self.number(value[0], ppath)
            py = self.number(value[1], ppath)
            if px is None or py is None or where is None:
                continue
            _, width, height = where
            point = clip_point(px, py, width, height)
            if point is None:
                self.add(ppath, f"The point {clipping_rule(width, height)}.")
                continue
            clean[name] = [point[0], point[1], v]
        unchanged = len(self.errors) == errors_before and len(self.schema_errors) == schema_before
        # An outside skeleton only says the object is gone: it may have no point left.
        if unchanged and not outside and not any(p[2] for p in clean.values()):
            self.add(f"{path}.points", "Label at least one point, or delete the skeleton.")
        if where is None or cls is None or len(self.errors) != errors_before:
            return None
        point_sources, point_confidence = self.point_provenance(
            inst, path, clean, source, confidence
        )
        if len(self.errors) != errors_before:
            return None
        frame = where[0]
        self.one_per_frame("skeleton", track, frame, path, seen)
        return {
            "frame": frame,
            "label_class": cls,
            "track": track,
            "points": {name: clean.get(name, [0, 0, 0]) for name in self.project.keypoint_names},
            "keyframe": keyframe,
            "outside": outside,
            "source": source,
            "confidence": confidence,
            "point_sources": point_sources,
            "point_confidence": point_confidence,
            "occluded": occluded,
            "attributes": attributes,
        }

    def point_provenance(
        self, inst: dict, path: str, clean: dict, source: str, confidence: float | None
    ) -> tuple[dict[str, str], dict[str, float]]:
        """({name: source}, {name: confidence}) of the labeled points: `point_sources` and
        `point_confidence` as given, a point given none taking the skeleton's source and
        confidence. A model's or propagation's point needs a confidence; a person's has none."""
        labeled = [name for name in self.project.keypoint_names if clean.get(name, [0, 0, 0])[2]]
        given: dict[str, dict] = {}
        for key in ("point_sources", "point_confidence"):
            value = inst.get(key, {})
            if value is None:
                value = {}
            if not isinstance(value, dict):
                self.add(f"{path}.{key}", "Must be an object {keypoint name: value}.")
                value = {}
            for name in value:
                if name not in self.keypoint_names:
                    self.add(f"{path}.{key}.{name}", f"'{name}' is not a keypoint of the skeleton.")
                elif key == "point_sources" and not clean.get(name, [0, 0, 0])[2]:
                    # (A confidence of a point not placed, as the suggestions give for the
                    # uncertain ones, says nothing about the stored points.)
                    self.add(
                        f"{path}.{key}.{name}",
                        f"'{name}' is not a labeled point of this skeleton; give a source "
                        "only for the points placed.",
                    )
            given[key] = value
        sources: dict[str, str] = {}
        confidences: dict[str, float] = {}
        for name in labeled:
            point_source = given["point_sources"].get(name, source)
            if point_source not in ShapeSource.values:
                self.add(f"{path}.point_sources.{name}", "Use 'human', 'model' or 'propagation'.")
                continue
            sources[name] = point_source
            raw = given["point_confidence"].get(name)
            if raw is None:
                point_confidence = confidence if point_source != ShapeSource.HUMAN else None
            else:
                point_confidence = self.number(raw, f"{path}.point_confidence.{name}")
                if point_confidence is None:
                    continue
                if not 0 <= point_confidence <= 1:
                    self.add(f"{path}.point_confidence.{name}", "Must be between 0 and 1.")
                    continue
                if point_source == ShapeSource.HUMAN:
                    self.add(
                        f"{path}.point_confidence.{name}",
                        "A point a person placed has no confidence; leave it out.",
                    )
                    continue
            if point_source != ShapeSource.HUMAN:
                if point_confidence is None:
                    self.add(
                        f"{path}.point_confidence.{name}",
                        f"A {point_source} point needs a confidence between 0 and 1.",
                    )
                    continue
                confidences[name] = point_confidence
        return sources, confidences


@dataclass
class ShapeProblems:
    """What the editor's validator found: the shapes that passed (clipped to the image) and
    the problems by field path ("boxes[3].x"), of form and of a changed schema apart."""

    checked: _Checked
    errors: dict[str, list[str]]
    schema_errors: dict[str, list[str]]


def annotation_problems(
    *,
    task: AnnotationTask,
    payload: object,
    classes: dict[str, LabelClass] | None = None,
    frames: dict[int, Frame] | None = None,
) -> ShapeProblems:
    """Run the editor's validation on a payload without raising: for callers that report
    problems their own way (the import job, per record). `classes` (by name) and `frames`
    (by id, of the task's video) may be passed in when many tasks are checked at once."""
    validator = _Validator(task, classes=classes, frames=frames)
    checked = validator.check(payload)
    return ShapeProblems(checked, validator.errors, validator.schema_errors)


def annotation_validate(*, task: AnnotationTask, payload: object) -> _Checked:
    """Check a payload against the task without writing; raises ShapeValidationError (400)
    or SchemaChanged (409)."""
    validator = _Validator(task)
    checked = validator.check(payload)
    if validator.errors:
        count = sum(len(m) for m in validator.errors.values())
        raise ShapeValidationError(
            f"{count} problem{'s' if count != 1 else ''} with the shapes; nothing was saved.",
            detail={"errors": validator.errors},
        )
    if validator.schema_errors:
        raise SchemaChanged(
            "The project's label schema changed while you worked: your draft is kept, "
            "reload the schema and relabel the marked shapes.",
            detail={"errors": validator.schema_errors},
        )
    return checked


def annotation_save(
    *,
    task: AnnotationTask,
    user,
    payload: dict,
    base_version: int | None,
    kind: str = Annotation.Kind.DRAFT,
    force: bool = False,
    own_chain: bool = False,
) -> Annotation:
    """Validate and store a new version of the task's labels.

    `own_chain`: the save continues the user's own versions of the task, not the task's
    (one of several annotators sharing it: annotate.queue.selectors.has_own_versions), so
    another holder's save is no conflict.

    Raises ShapeValidationError (400), TaskNotEditable (409), VersionConflict (409, unless
    `force`), SchemaChanged (409). Nothing is written unless everything passes.
    """
    if kind not in Annotation.Kind.values:
        raise ValueError(f"unknown annotation kind {kind!r}")
    with transaction.atomic():
        # Serialises concurrent saves of one task: the second waits and then sees the first.
        locked = AnnotationTask.objects.select_for_update().get(pk=task.pk)
        # Labeled work waits for or passed review; only a rejection gives it back.
        if locked.state in AnnotationTask.State.LABELED:
            raise TaskNotEditable(
                f"This task is {locked.get_state_display().lower()}: it cannot be changed "
                "unless a reviewer sends it back.",
                detail={"state": locked.state},
            )
        latest = latest_version(locked, user if own_chain else None)
        if base_version != latest and not force:
            saved = "nothing was saved" if latest is None else f"version {latest} is the latest"
            raise VersionConflict(
                f"This task was saved elsewhere ({saved}) after the version you started "
                f"from ({base_version or 'none'}). Your work is kept: reload, or overwrite.",
                detail={"latest_version": latest},
            )
        checked = annotation_validate(task=locked, payload=payload)

        # Numbers stay unique per task: a holder's chain is a subsequence of the task's.
        newest = latest_version(locked) if own_chain else latest
        annotation = annotation_store(
            task=locked,
            user=user,
            checked=checked,
            kind=kind,
            version=(newest or 0) + 1,
            base_version=base_version,
        )
        if kind == Annotation.Kind.SUBMISSION:
            labels_submitted(project_id=locked.project_id)
    return annotation


def annotation_store(
    *,
    task: AnnotationTask,
    user,
    checked: _Checked,
    kind: str,
    version: int,
    base_version: int | None,
) -> Annotation:
    """Write a version whose shapes passed annotation_validate (the one validator every
    path that writes shapes goes through), inside the caller's transaction."""
    annotation = Annotation.objects.create(
        task=task, author=user, version=version, base_version=base_version, kind=kind
    )
    tracks: dict[int, Track] = {}
    for number, cls in checked.tracks.items():
        track, created = Track.objects.get_or_create(
            asset_id=task.asset_id, number=number, defaults={"label_class": cls}
        )
        if not created and track.label_class_id != cls.pk:
            # A track's class is its current class; earlier versions keep theirs per shape.
            track.label_class = cls
            track.save(update_fields=["label_class"])
        tracks[number] = track
    Box.objects.bulk_create(
        [
            Box(annotation=annotation, **{**row, "track": tracks.get(row["track"])})
            for row in checked.boxes
        ],
        batch_size=2000,
    )
    KeypointInstance.objects.bulk_create(
        [
            KeypointInstance(annotation=annotation, **{**row, "track": tracks.get(row["track"])})
            for row in checked.keypoints
        ],
        batch_size=2000,
    )
    return annotation
