"""Errors that services raise. Each carries its HTTP answer (status, code, body), which the
one DRF exception handler (annotate.api.errors.exception_handler) sends, so views never catch
them; pages and the admin catch them to show the message."""

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

    def response_headers(self) -> dict[str, str]:
        return {}


class InvalidFields(ServiceError):
    """Input refused field by field. The body is {field: [messages]}, the shape DRF gives an
    invalid serializer, so that a client reads a service's refusal and a serializer's alike."""

    def __init__(self, errors: dict[str, list[str]], message: str | None = None) -> None:
        if message is None:
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        super().__init__(message)
        self.errors = errors

    def as_response_data(self) -> dict:
        return self.errors


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
