"""What the client raises: one ClientError carrying the HTTP status, the API's stable `code`,
its messages by field and Retry-After, worded for people (what happened, what to do next)."""

from __future__ import annotations

from typing import Any

import requests

# DRF's answers when a token is missing, unknown or its user deactivated. With session
# authentication listed first, the server sends them as 403, not 401: the wording tells.
AUTH_DETAILS = (
    "Authentication credentials were not provided.",
    "Invalid token.",
    "Invalid token header",
    "User inactive or deleted.",
    "Token inactive or deleted.",
)


class ClientError(Exception):
    """A request the server refused, or could not be reached for.

    status: the HTTP status (None when no answer came); code: the API's stable name for the
    refusal (e.g. "not_ready", "request_too_large"); detail: its sentence; errors: messages by
    field path ({"spec.input.size": ["..."]}); retry_after: seconds to wait (429, 503)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str = "",
        errors: dict[str, list[str]] | None = None,
        retry_after: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or {}
        self.retry_after = retry_after
        self.body = body

    @property
    def is_authentication(self) -> bool:
        """The token (or password) was missing or refused: log in again."""
        return self.status == 401 or (
            self.status == 403 and any(self.detail.startswith(text) for text in AUTH_DETAILS)
        )


class ConnectionFailed(ClientError):
    """No answer: the server is unreachable, refused the connection or timed out."""


class WaitTimeout(ClientError):
    """A job (scoring run, export) did not finish within the time given."""


class JobFailed(ClientError):
    """A job the server ran (scoring run, export) ended failed; `job` is its last state."""

    def __init__(self, message: str, *, job: Any) -> None:
        super().__init__(message)
        self.job = job


class PushRefused(ClientError):
    """Every pushed row was refused; `result` lists each row's reason."""

    def __init__(self, message: str, *, result: Any, status: int | None = 400) -> None:
        super().__init__(message, status=status)
        self.result = result


def field_messages(body: object, prefix: str = "") -> dict[str, list[str]]:
    """{field path: [messages]} from DRF's field errors ({"spec": {"input": ["..."]}},
    {"exclude": {"0": ["..."]}}, {"non_field_errors": [...]}) or a list of messages."""
    found: dict[str, list[str]] = {}
    if isinstance(body, dict):
        for key, value in body.items():
            if key.isdigit() and prefix:
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            found.update(field_messages(value, path))
    elif isinstance(body, list):
        if all(isinstance(item, str) for item in body):
            found[prefix or "non_field_errors"] = list(body)
        else:
            for index, item in enumerate(body):
                found.update(field_messages(item, f"{prefix}[{index}]"))
    elif body is not None:
        found[prefix or "non_field_errors"] = [str(body)]
    return found


def _retry_after(response: requests.Response, body: object) -> int | None:
    header = response.headers.get("Retry-After", "").strip()
    if header.isdigit():
        return int(header)
    seconds = body.get("retry_after") if isinstance(body, dict) else None
    return seconds if isinstance(seconds, int) else None


def _seconds(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


def json_body(response: requests.Response) -> object:
    """The parsed JSON body, or None when it is not JSON."""
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def error_from_response(response: requests.Response, *, doing: str) -> ClientError:
    """A ClientError for an answer of status >= 400, its message saying what `doing` was."""
    status = response.status_code
    body = json_body(response)
    code: str | None = None
    detail = ""
    errors: dict[str, list[str]] = {}
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        detail = body["detail"]
        code = body.get("code") if isinstance(body.get("code"), str) else None
        errors = field_messages(body.get("errors"))
    elif body is not None:
        errors = field_messages(body)  # a serializer's refusal: messages by field
    else:
        text = " ".join(response.text.split())[:200]
        detail = f"(an answer that is not JSON: {text!r})" if text else "(an empty answer)"
    retry_after = _retry_after(response, body)
    error = ClientError(
        doing,
        status=status,
        code=code,
        detail=detail,
        errors=errors,
        retry_after=retry_after,
        body=body,
    )
    error.message = _wording(error, doing, response.reason)
    error.args = (error.message,)
    return error


def _when(error: ClientError, otherwise: str) -> str:
    """When to try again, unless the server's own sentence says so already."""
    if "try again" in error.detail.lower():
        return ""
    if error.retry_after:
        return f" Try again in {_seconds(error.retry_after)}."
    return f" Try again {otherwise}." if otherwise else ""


def _wording(error: ClientError, doing: str, reason: str) -> str:
    status, detail = error.status or 0, error.detail
    said = f" {detail}" if detail else ""
    if error.is_authentication:
        text = (
            f"{doing}: the server did not accept your credentials ({status}).{said} "
            "Log in again (`annotate-client login`) or check ANNOTATE_TOKEN."
        )
    elif status == 403:
        text = (
            f"{doing}: not allowed (403).{said} Your role in this project does not permit it; "
            "a project manager can change your role."
        )
    elif status == 404:
        said = "" if detail.lower().rstrip(".") == "not found" else said
        text = (
            f"{doing}: not found (404).{said} It does not exist, or it belongs to a project "
            "you are not a member of."
        )
    elif status == 409:
        text = f"{doing}: conflict (409).{said}"
    elif status == 413:
        text = f"{doing}: too large for the server (413).{said}"
    elif status == 429:
        text = f"{doing}: too many requests (429).{said}{_when(error, '')}"
    elif status == 503:
        text = f"{doing}: the server is unavailable for now (503).{said}{_when(error, 'later')}"
    elif status >= 500:
        text = (
            f"{doing}: the server failed ({status} {reason}).{said} This is the server's "
            "fault, not your request's; its log says more."
        )
    else:
        text = f"{doing}: refused ({status} {reason}).{said}"
    for field, messages in error.errors.items():
        for message in messages:
            text += f"\n  {field}: {message}"
    return text
