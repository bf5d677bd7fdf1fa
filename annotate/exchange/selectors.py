"""Reads for export: which annotation versions are exported, and the tasks with their frames
and shapes, fetched chunk by chunk so memory stays flat however large the project is."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from django.db.models import OuterRef, Q, QuerySet, Subquery

from annotate.batching import batched
from annotate.models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Frame,
    KeypointInstance,
    LabelClass,
    Project,
)
from annotate.track_shapes import track_frames

EXPORTED_KINDS = (Annotation.Kind.SUBMISSION, Annotation.Kind.IMPORT, Annotation.Kind.CONSENSUS)
# An export's state filter: "submitted" exports every labeled task, reviewed or not.
STATES_BY_FILTER = {
    "accepted": (AnnotationTask.State.ACCEPTED,),
    "submitted": AnnotationTask.State.LABELED,
}
DEFAULT_CHUNK_SIZE = 500


@dataclass(frozen=True)
class ExportFilter:
    state: str = "accepted"  # "accepted" | "submitted"
    phase: str = "label"  # "label": dates apply to submission; "review": to the review
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive


@dataclass(frozen=True)
class AssetInfo:
    id: int
    kind: str
    name: str  # external key, else the uploaded name, else "asset-<id>"
    width: int | None
    height: int | None
    frame_count: int | None


@dataclass(frozen=True)
class FrameInfo:
    """An image to export: a whole image asset (id and index None) or one video frame."""

    id: int | None
    index: int | None
    width: int | None
    height: int | None


@dataclass
class BoxRow:
    frame_id: int | None
    label_class_id: int
    track: int | None
    x: float
    y: float
    w: float
    h: float
    keyframe: bool = True
    confidence: float | None = None
    outside: bool = False
    occluded: bool = False
    attributes: dict = field(default_factory=dict)


@dataclass
class KeypointRow:
    frame_id: int | None
    label_class_id: int
    track: int | None
    points: dict
    keyframe: bool = True
    confidence: float | None = None
    outside: bool = False
    source: str = "human"
    point_sources: dict = field(default_factory=dict)  # name -> who set it

    def source_of(self, name: str) -> str | None:
        """Who set a point: "human", "model" or "propagation"; None when it is unlabeled."""
        point = self.points.get(name)
        if not point or len(point) < 3 or int(point[2]) == 0:
            return None
        return (self.point_sources or {}).get(name, self.source)

    occluded: bool = False
    attributes: dict = field(default_factory=dict)


@dataclass
class ExportTask:
    """One exported version: its frames, and its stored rows (a track's keyframes)."""

    task_id: int
    annotation_id: int
    asset: AssetInfo
    frames: list[FrameInfo]
    boxes: list[BoxRow] = field(default_factory=list)
    keypoints: list[KeypointRow] = field(default_factory=list)
    _by_frame: dict | None = field(default=None, repr=False)

    def shapes_on(self, frame_id: int | None) -> tuple[list[BoxRow], list[KeypointRow]]:
        """What is on one frame: its untracked shapes, and every track present there with
        its shape computed from the keyframes (annotate.track_shapes)."""
        if self._by_frame is None:
            self._by_frame = self._shapes_by_frame()
        return self._by_frame.get(frame_id, ([], []))

    def _shapes_by_frame(self) -> dict[int | None, tuple[list, list]]:
        by_frame: dict[int | None, tuple[list, list]] = defaultdict(lambda: ([], []))
        position = {frame.id: i for i, frame in enumerate(self.frames)}
        for kind, rows in ((0, self.boxes), (1, self.keypoints)):
            keyframes: dict[int, list] = defaultdict(list)
            for row in rows:
                if row.track is None:
                    by_frame[row.frame_id][kind].append(row)
                elif row.keyframe and row.frame_id in position:
                    keyframes[row.track].append((position[row.frame_id], row))
            for track in sorted(keyframes):
                for at, shape, _ in track_frames(keyframes[track], len(self.frames)):
                    frame_id = self.frames[at].id
                    by_frame[frame_id][kind].append(replace(shape, frame_id=frame_id))
        return by_frame


def asset_export_name(*, asset_id: int, external_key: str, original_name: str) -> str:
    """The name an asset goes by in exported files: a relative POSIX path, never absolute and
    without '..', so it is safe as a path inside an archive."""
    raw = (external_key or original_name or f"asset-{asset_id}").replace("\\", "/")
    parts = [p for p in PurePosixPath(raw).parts if p not in ("/", "..", ".", "")]
    return "/".join(parts) or f"asset-{asset_id}"


def label_classes(project: Project) -> list[LabelClass]:
    """Every class of the schema, active or not, in schema order: category ids follow it."""
    return list(LabelClass.objects.filter(project=project).order_by("order", "id"))


def exported_annotations(*, project: Project, export_filter: ExportFilter) -> QuerySet:
    """For each task of the project whose state matches the filter, its latest submitted or
    imported annotation version (drafts never leave the project)."""
    latest = (
        Annotation.objects.filter(task=OuterRef("task"), kind__in=EXPORTED_KINDS)
        .order_by("-version")
        .values("id")[:1]
    )
    states = STATES_BY_FILTER[export_filter.state]
    queryset = Annotation.objects.filter(
        task__project=project,
        task__state__in=states,
        # Gold copies are attempts to be scored, not the project's labels.
        task__gold_of__isnull=True,
        kind__in=EXPORTED_KINDS,
        id=Subquery(latest),
    )
    stamp = "task__reviewed_at" if export_filter.phase == "review" else "task__submitted_at"
    if export_filter.phase == "review":
        queryset = queryset.filter(task__reviewed_at__isnull=False)
    if export_filter.date_from:
        queryset = queryset.filter(Q(**{f"{stamp}__date__gte": export_filter.date_from}))
    if export_filter.date_to:
        queryset = queryset.filter(Q(**{f"{stamp}__date__lte": export_filter.date_to}))
    return queryset


def iter_export_tasks(
    annotations: QuerySet, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[ExportTask]:
    """The exported tasks in a stable order (asset, then segment start), each with its frames
    and shapes. Rows are streamed from the database and shapes fetched one chunk at a time."""
    rows = (
        annotations.order_by("task__asset_id", "task__frame_start", "task_id")
        .values_list(
            "id", "task_id", "task__asset_id", "task__kind", "task__frame_start", "task__frame_end"
        )
        .iterator(chunk_size=chunk_size)
    )
    for chunk in batched(rows, chunk_size):
        yield from _load_chunk(chunk)


def _load_chunk(chunk: list[tuple]) -> Iterator[ExportTask]:
    annotation_ids = [row[0] for row in chunk]
    asset_ids = {row[2] for row in chunk}
    assets = {
        a[0]: AssetInfo(
            id=a[0],
            kind=a[1],
            name=asset_export_name(asset_id=a[0], external_key=a[2], original_name=a[3]),
            width=a[4],
            height=a[5],
            frame_count=a[6],
        )
        for a in Asset.objects.filter(id__in=asset_ids).values_list(
            "id", "kind", "external_key", "original_name", "width", "height", "frame_count"
        )
    }
    frames_by_asset: dict[int, list[FrameInfo]] = defaultdict(list)
    video_rows = [row for row in chunk if row[3] == AnnotationTask.Kind.VIDEO]
    if video_rows:
        condition = Q()
        for row in video_rows:
            condition |= Q(asset_id=row[2], index__gte=row[4], index__lte=row[5])
        for frame in (
            Frame.objects.filter(condition)
            .order_by("asset_id", "index")
            .values_list("asset_id", "id", "index", "width", "height")
        ):
            frames_by_asset[frame[0]].append(FrameInfo(*frame[1:]))

    boxes: dict[int, list[BoxRow]] = defaultdict(list)
    for b in Box.objects.filter(annotation_id__in=annotation_ids).values_list(
        "annotation_id",
        "frame_id",
        "label_class_id",
        "track__number",
        "x",
        "y",
        "w",
        "h",
        "keyframe",
        "confidence",
        "outside",
        "occluded",
        "attributes",
    ):
        boxes[b[0]].append(BoxRow(*b[1:]))
    keypoints: dict[int, list[KeypointRow]] = defaultdict(list)
    for k in KeypointInstance.objects.filter(annotation_id__in=annotation_ids).values_list(
        "annotation_id",
        "frame_id",
        "label_class_id",
        "track__number",
        "points",
        "keyframe",
        "confidence",
        "outside",
        "source",
        "point_sources",
        "occluded",
        "attributes",
    ):
        keypoints[k[0]].append(KeypointRow(*k[1:]))

    for annotation_id, task_id, asset_id, kind, start, end in chunk:
        if kind == AnnotationTask.Kind.VIDEO:
            frames = [f for f in frames_by_asset[asset_id] if start <= f.index <= end]
        else:
            asset = assets[asset_id]
            frames = [FrameInfo(None, None, asset.width, asset.height)]
        yield ExportTask(
            task_id=task_id,
            annotation_id=annotation_id,
            asset=assets[asset_id],
            frames=frames,
            boxes=boxes.pop(annotation_id, []),
            keypoints=keypoints.pop(annotation_id, []),
        )


@dataclass(frozen=True)
class TrackKeyframe:
    """A keyframe of a track in one exported version, with that version's segment."""

    track: int
    segment: tuple[int, int]  # first and last source frame index of the task
    frame_index: int
    shape: BoxRow | KeypointRow


def iter_track_keyframes(
    annotations: QuerySet, *, asset_id: int, skeletons: bool = False, chunk_size: int = 2000
) -> Iterator[TrackKeyframe]:
    """The keyframes of the tracked boxes (or skeletons) of one video in the exported
    versions, ordered by track, segment and frame, so that a track split over several
    segments comes out as one (CVAT)."""
    model = KeypointInstance if skeletons else Box
    geometry = ("points",) if skeletons else ("x", "y", "w", "h")
    rows = (
        model.objects.filter(
            annotation_id__in=annotations.values("id"),
            track__isnull=False,
            keyframe=True,
            frame__asset_id=asset_id,
        )
        .order_by("track__number", "annotation__task__frame_start", "frame__index", "id")
        .values_list(
            "track__number",
            "annotation__task__frame_start",
            "annotation__task__frame_end",
            "frame__index",
            "frame_id",
            "label_class_id",
            *geometry,
            "confidence",
            "outside",
            "occluded",
            "attributes",
        )
        .iterator(chunk_size=chunk_size)
    )
    make = KeypointRow if skeletons else BoxRow
    for number, start, end, index, frame_id, class_id, *rest in rows:
        *values, confidence, outside, occluded, attributes = rest
        shape = make(
            frame_id,
            class_id,
            number,
            *values,
            True,
            confidence,
            outside,
            occluded=occluded,
            attributes=attributes,
        )
        yield TrackKeyframe(number, (start, end), index, shape)


def frame_indices(asset_id: int) -> list[int]:
    """The source indices of a video's extracted frames, in order."""
    return list(
        Frame.objects.filter(asset_id=asset_id).order_by("index").values_list("index", flat=True)
    )


def video_assets(annotations: QuerySet) -> list[AssetInfo]:
    """The video assets the exported versions belong to (few: one row per video)."""
    rows = (
        Asset.objects.filter(kind=Asset.Kind.VIDEO, tasks__annotations__in=annotations.values("id"))
        .distinct()
        .order_by("id")
        .values_list(
            "id", "kind", "external_key", "original_name", "width", "height", "frame_count"
        )
    )
    return [
        AssetInfo(
            id=r[0],
            kind=r[1],
            name=asset_export_name(asset_id=r[0], external_key=r[2], original_name=r[3]),
            width=r[4],
            height=r[5],
            frame_count=r[6],
        )
        for r in rows
    ]


def image_files(*, asset_id: int, frame_ids: list[int | None]) -> dict[int | None, object]:
    """The stored file behind each exported image: the asset's own file for an image (key
    None), the extracted frame's image for a video frame."""
    files: dict[int | None, object] = {}
    if None in frame_ids:
        files[None] = Asset.objects.get(pk=asset_id).file
    wanted = [i for i in frame_ids if i is not None]
    if wanted:
        for frame in Frame.objects.filter(asset_id=asset_id, id__in=wanted).only("id", "image"):
            files[frame.id] = frame.image
    return files
