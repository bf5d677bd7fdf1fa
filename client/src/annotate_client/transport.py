"""The one way the client talks to the server: each request names its endpoint in
ENDPOINTS (so tests check every path, method and answer type against the OpenAPI schema),
and every refusal or failure to connect becomes a ClientError worded for people."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests
from rich.console import Console

from ._version import __version__
from .errors import ClientError, ConnectionFailed, error_from_response, json_body
from .types import (
    Activation,
    ExportJob,
    LabelClass,
    ModelVersion,
    Project,
    PushResult,
    Rollback,
    ScoringRun,
    Task,
    Token,
    UploadReport,
    parse,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as the OpenAPI schema writes it
    status: int  # the success answer
    answer: type | None  # its body's type; None: a file
    shape: Literal["one", "list", "page"] = "one"


ENDPOINTS: dict[str, Endpoint] = {
    "token": Endpoint("POST", "/api/token/", 200, Token),
    "projects": Endpoint("GET", "/api/projects/", 200, Project, "page"),
    "project": Endpoint("GET", "/api/projects/{id}/", 200, Project),
    "classes": Endpoint("GET", "/api/projects/{id}/classes/", 200, LabelClass, "list"),
    "upload": Endpoint("POST", "/api/projects/{project_id}/assets/upload/", 201, UploadReport),
    "push": Endpoint("POST", "/api/projects/{id}/predictions/", 200, PushResult),
    "checkpoints": Endpoint("GET", "/api/projects/{id}/checkpoints/", 200, ModelVersion, "list"),
    "checkpoint_upload": Endpoint("POST", "/api/projects/{id}/checkpoints/", 201, ModelVersion),
    "checkpoint_activate": Endpoint("POST", "/api/checkpoints/{id}/activate/", 202, Activation),
    "checkpoint_rollback": Endpoint(
        "POST", "/api/projects/{id}/checkpoints/rollback/", 202, Rollback
    ),
    "scoring_runs": Endpoint("GET", "/api/projects/{id}/scoring-runs/", 200, ScoringRun, "page"),
    # Pages by cursor: each answer's `next` link carries the next page's `cursor=`.
    "tasks": Endpoint("GET", "/api/tasks/", 200, Task, "page"),
    "scoring_run": Endpoint("GET", "/api/projects/{id}/scoring-runs/{run_id}/", 200, ScoringRun),
    "export_start": Endpoint("POST", "/api/projects/{id}/exports/", 202, ExportJob),
    "export": Endpoint("GET", "/api/exports/{id}/", 200, ExportJob),
    "export_download": Endpoint("GET", "/api/exports/{id}/download/", 200, None),
}


def object_id(thing: int | Any) -> int:
    return thing if isinstance(thing, int) else int(thing.id)


def connection_reason(error: Exception) -> str:
    """The operating system's words ("[Errno 111] Connection refused") from requests'
    long chain of wrapped exceptions."""
    text = str(error)
    found: list[str] = re.findall(r"\[Errno -?\d+\] [^'\")]+", text)
    if found:
        return found[-1].strip()
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the server closed the connection"
    return text[:200]


class Transport:
    """A session with one server: its address, the token, timeouts and progress bars."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float | tuple[float, float] = (10.0, 600.0),
        progress: bool = False,
        console: Console | None = None,
        session: requests.Session | None = None,
    ) -> None:
        url = url.strip().rstrip("/")
        if not re.match(r"^https?://", url):
            raise ValueError(f"the server address must start with http:// or https://: {url!r}")
        self.url = url.removesuffix("/api")
        self.token = token
        self.timeout = timeout
        self.progress = progress
        self.console = console
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"annotate-client/{__version__}"

    def close(self) -> None:
        """Close the kept-alive connections (also at the end of a `with Client(...)`)."""
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- requests --------------------------------------------------------------------------

    def _send(
        self,
        name: str,
        *,
        doing: str,
        path: Mapping[str, object] | None = None,
        accept: Sequence[int] = (),
        headers: Mapping[str, str] | None = None,
        sending: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """One request to ENDPOINTS[name]; an answer of 400 or more not in `accept` is
        raised as a ClientError. `doing` says what it was for, in the error's first words."""
        endpoint = ENDPOINTS[name]
        url = self.url + endpoint.path.format(**(path or {}))
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.token and name != "token":
            all_headers["Authorization"] = f"Token {self.token}"
        try:
            response = self.session.request(
                endpoint.method, url, headers=all_headers, timeout=self.timeout, **kwargs
            )
        except requests.exceptions.Timeout:
            raise ConnectionFailed(
                f"{doing}: no answer from {self.url} within the time allowed "
                f"({self.timeout} s). The server may be overloaded; try again."
            ) from None
        except requests.exceptions.ConnectionError as error:
            hint = (
                " It broke while the request body was being sent: the server may have refused "
                "a body over its size limit (send fewer or smaller files at a time)."
                if sending
                else " Check the address (--url or ANNOTATE_URL) and that the server is running."
            )
            raise ConnectionFailed(
                f"{doing}: cannot reach the server at {self.url} "
                f"({connection_reason(error)}).{hint}"
            ) from None
        if response.status_code >= 400 and response.status_code not in accept:
            raise error_from_response(response, doing=doing)
        return response

    def _json(self, response: requests.Response, doing: str) -> Any:
        body = json_body(response)
        if body is None:
            raise ClientError(
                f"{doing}: the server answered {response.status_code} without JSON. "
                f"Is {self.url} the address of the Annotate server?",
                status=response.status_code,
            )
        return body

    def _one(self, cls: type[T], response: requests.Response, doing: str) -> T:
        return parse(cls, self._json(response, doing))

    def _pages(self, name: str, cls: type[T], *, doing: str, path: Mapping[str, object]) -> list[T]:
        return list(self._iter_pages(name, cls, doing=doing, path=path))

    def _iter_pages(
        self,
        name: str,
        cls: type[T],
        *,
        doing: str,
        path: Mapping[str, object],
        params: Mapping[str, object] | None = None,
    ) -> Iterator[T]:
        """Every row of a list, a page at a time, following each answer's `next` link as it
        is (a page number or an opaque cursor: the server decides how the list pages)."""
        query: Mapping[str, object] | list[tuple[str, str]] = dict(params or {})
        while True:
            body = self._json(self._send(name, doing=doing, path=path, params=query), doing)
            for item in body["results"]:
                yield parse(cls, item)
            if not body.get("next"):
                return
            query = parse_qsl(urlsplit(body["next"]).query, keep_blank_values=True)
