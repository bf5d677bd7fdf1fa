"""Errors that services raise and views turn into HTTP answers (see each class's status)."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}

    def as_response_data(self) -> dict:
        return {"detail": self.message, "code": self.code, **self.detail}


class ShapeValidationError(ServiceError):
    """Field-level problems with submitted shapes: detail = {"errors": {path: [messages]}},
    with paths like "boxes[3].w" so the page can show them next to the shape."""

    status = 400
    code = "invalid_shapes"


class VersionConflict(ServiceError):
    """The save started from an older version than the latest: detail carries
    latest_version so the page can offer reload or an explicit overwrite."""

    status = 409
    code = "version_conflict"


class TaskNotEditable(ServiceError):
    """Submitted or accepted work cannot be changed by its annotator unless sent back."""

    status = 409
    code = "task_not_editable"


class SchemaChanged(ServiceError):
    """A class or keypoint used by the draft was removed from the schema meanwhile."""

    status = 409
    code = "schema_changed"


class LeaseLost(ServiceError):
    """The task is no longer leased to this user (expired and taken, or released)."""

    status = 409
    code = "lease_lost"


class BudgetExhausted(ServiceError):
    status = 409
    code = "budget_exhausted"
