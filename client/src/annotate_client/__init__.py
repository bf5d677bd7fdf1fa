"""A Python client for the Annotate API: token login, media upload, prediction push from
arrays, checkpoints, scoring runs and exports. See the repository README, "Python client"."""

from ._version import __version__
from .client import Client
from .errors import ClientError, ConnectionFailed, JobFailed, PushRefused, WaitTimeout
from .predictions import (
    box_rows,
    embedding_rows,
    keypoint_rows,
    merge_rows,
    probability_rows,
    score_rows,
)
from .transport import ENDPOINTS
from .types import (
    Activation,
    ExportJob,
    FileResult,
    LabelClass,
    ModelVersion,
    Project,
    PushResult,
    PushRowError,
    Rollback,
    ScoringRun,
    Task,
    UploadReport,
)

__all__ = [
    "ENDPOINTS",
    "Activation",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "ExportJob",
    "FileResult",
    "JobFailed",
    "LabelClass",
    "ModelVersion",
    "Project",
    "PushRefused",
    "PushResult",
    "PushRowError",
    "Rollback",
    "ScoringRun",
    "Task",
    "UploadReport",
    "WaitTimeout",
    "__version__",
    "box_rows",
    "embedding_rows",
    "keypoint_rows",
    "merge_rows",
    "probability_rows",
    "score_rows",
]
