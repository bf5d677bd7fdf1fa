"""The API's answers as dataclasses, one per OpenAPI schema component (named in `SCHEMA`);
tests/client checks their fields and types against the server's schema. Fields the server
adds later are ignored, so an older client keeps working against a newer server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Token:
    SCHEMA: ClassVar[str] = "Token"
    token: str


@dataclasses.dataclass(frozen=True)
class Project:
    SCHEMA: ClassVar[str] = "Project"
    id: int
    name: str
    created_at: dt.datetime
    role: str | None
    tasks_pending: int = 0
    tasks_done: int = 0
    description: str = ""
    skeleton: Any = None
    box_enabled: bool = True
    keypoints_enabled: bool = False
    tracks_enabled: bool = False
    frame_stride: int = 1
    segment_length: int = 1
    propagation_min_confidence: float = 0.5
    propagation_below: str = "stop"
    mastered_keypoints: list[str] = dataclasses.field(default_factory=list)

    @property
    def keypoint_names(self) -> list[str]:
        """The skeleton's keypoints in order (what keypoint predictions are named by)."""
        if isinstance(self.skeleton, dict):
            return [str(name) for name in self.skeleton.get("keypoints") or []]
        return []


@dataclasses.dataclass(frozen=True)
class LabelClass:
    SCHEMA: ClassVar[str] = "LabelClass"
    id: int
    project: int
    name: str
    color: str = ""
    hotkey: str = ""
    order: int = 0
    is_active: bool = True
    # The class's attribute schema: [{name, type, values?, default?, mutable}], as the API gives.
    attributes: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class FileResult:
    """What became of one uploaded file (each member of a zip counts as one)."""

    SCHEMA: ClassVar[str] = "FileResult"
    name: str
    status: str  # created, duplicate or error
    message: str
    asset_id: int | None
    kind: str | None
    state: str | None


@dataclasses.dataclass(frozen=True)
class UploadReport:
    SCHEMA: ClassVar[str] = "IngestReport"
    created: int
    duplicates: int
    errors: int  # how many files were refused; their reasons are in results
    results: list[FileResult]

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.results if result.status == "error"]


@dataclasses.dataclass(frozen=True)
class PushRowError:
    """One refused row: `row` is its position (from 1) in the rows given to the push."""

    SCHEMA: ClassVar[str] = "PushErrorRow"
    row: int
    error: str
    asset: Any = None
    asset_id: Any = None
    external_key: Any = None
    file_name: Any = None


@dataclasses.dataclass(frozen=True)
class PushResult:
    SCHEMA: ClassVar[str] = "PredictionPushAnswer"
    rows: int
    stored: int  # task predictions written: a video's row counts once per segment task
    error_count: int
    errors: list[PushRowError]
    model_versions: list[str]
    model_version_id: int | None
    version_active: bool | None
    activated: bool
    message: str
    scoring_run: int | None


@dataclasses.dataclass(frozen=True)
class ModelVersion:
    SCHEMA: ClassVar[str] = "ModelVersion"
    id: int
    name: str
    kind: str  # onnx, baseline or pushed
    task_type: str
    created_at: dt.datetime
    sha256: str = ""
    uploaded_by: str | None = None
    notes: str = ""
    metrics: Any = None
    spec: Any = None
    is_active: bool = False
    activated_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class Activation:
    SCHEMA: ClassVar[str] = "ActivationAnswer"
    version: ModelVersion
    scoring_run: int


@dataclasses.dataclass(frozen=True)
class Rollback:
    SCHEMA: ClassVar[str] = "RollbackAnswer"
    to: str  # previous, baseline or none
    version: ModelVersion | None
    scoring_run: int
    message: str


@dataclasses.dataclass(frozen=True)
class ScoringRun:
    SCHEMA: ClassVar[str] = "ScoringRun"
    id: int
    created_at: dt.datetime
    progress: float
    reason: str = ""
    state: str = "queued"
    model_version: int | None = None
    model_version_name: str | None = None
    chunks_done: int = 0
    chunks_total: int = 0
    tasks_scored: int = 0
    error: str = ""
    finished_at: dt.datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state not in ("queued", "running")


@dataclasses.dataclass(frozen=True)
class Task:
    """One annotation task (GET /api/tasks/, which pages by cursor: Client.tasks)."""

    SCHEMA: ClassVar[str] = "Task"
    id: int
    project: int
    asset: int
    kind: str
    state: str
    created_at: dt.datetime
    updated_at: dt.datetime
    asset_name: str = ""
    frame_start: int | None = None
    frame_end: int | None = None
    frame_count: int = 1
    priority: float = 0.0
    lease_user: str | None = None
    lease_expires_at: dt.datetime | None = None
    annotator: str | None = None
    skip_reason: str = ""
    submitted_at: dt.datetime | None = None
    reviewed_at: dt.datetime | None = None
    latest_version: int | None = None


@dataclasses.dataclass(frozen=True)
class ExportSummaryLine:
    """What an export left out, by kind (skeletons="omit", or what the points form lacks)."""

    SCHEMA: ClassVar[str] = "ExportSummaryLine"
    kind: str
    count: int
    message: str


@dataclasses.dataclass(frozen=True)
class ExportJob:
    SCHEMA: ClassVar[str] = "ExportJob"
    id: int
    project: int
    format: str
    state_filter: str
    phase: str
    date_from: dt.date | None
    date_to: dt.date | None
    state: str
    progress: float
    tasks_total: int
    tasks_done: int
    error: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    url: str
    download_url: str | None
    include_images: bool = False  # YOLO, CVAT for images: the archive holds the images too
    skeletons: str = "skeleton"  # CVAT formats: "skeleton", "points" or "omit"
    summary: list[ExportSummaryLine] = dataclasses.field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state not in ("queued", "running")


def parse(cls: type[T], data: Mapping[str, Any]) -> T:
    """An instance of the dataclass `cls` from a JSON object (unknown keys are ignored)."""
    hints = typing.get_type_hints(cls)
    values = {
        field.name: _convert(hints[field.name], data[field.name])
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if field.name in data
    }
    return cls(**values)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(inner, value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, entry) for entry in value]
    if hint is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if hint is dt.date:
        return dt.date.fromisoformat(value)
    if hint is float:
        return float(value)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value)  # type: ignore[arg-type]
    return value


# Every answer type, for the schema check in tests/client.
ANSWER_TYPES: tuple[type, ...] = (
    Token,
    Project,
    LabelClass,
    FileResult,
    UploadReport,
    PushRowError,
    PushResult,
    ModelVersion,
    Activation,
    Rollback,
    ScoringRun,
    Task,
    ExportSummaryLine,
    ExportJob,
)
