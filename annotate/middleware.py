"""Two guards around every request.

Request bodies are bounded before they are read: a declared Content-Length over the limit
is answered 413 at once, and a chunked body (no length) is counted while it is read and
refused as soon as it passes the limit (a view that streams it sees BodyTooLarge), so no
oversized upload is ever spooled whole.

A persistent database connection is checked before each request by looking at its socket
(a connection PostgreSQL ended has something to read there), with Django's SELECT 1 only
when it does. A connection lost mid-request (PostgreSQL restarted, the connection
terminated) is not a 500: a request that changes nothing (GET, HEAD, OPTIONS) is run again,
twice at most, after a short pause, on a new connection; any other, or one that still
fails, is answered 503 with Retry-After. Its transaction was rolled back whole, so the
client may send it again.

API clients (paths under /api/, XHR, or asking for JSON) get {"detail", "code"} as JSON;
pages get the same sentence on an HTML page.
"""

from __future__ import annotations

import logging
import random
import select
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .faults import DATABASE_FAULTS, fresh_connections

logger = logging.getLogger(__name__)

# Bodies that carry files or streams (uploads, checkpoints, JSON Lines) may be large; every
# other body (JSON, forms) is parsed in memory and gets the small limit.
UPLOAD_CONTENT_TYPES = (
    "multipart/form-data",
    "application/x-ndjson",
    "application/jsonl",
    "application/json-lines",
)


def wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/api/")
        or request.headers.get("x-requested-with") == "XMLHttpRequest"
        or "application/json" in request.headers.get("accept", "")
    )


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict | None = None,
    page_context: bool = True,
) -> HttpResponse:
    """One answer in words, as JSON for API clients and as a page for people. Without
    `page_context` the page is rendered without the request's context processors, which
    would read the user (and so the database) for the page's header."""
    if wants_json(request):
        return JsonResponse({"detail": message, "code": code}, status=status, headers=headers)
    page = render_to_string(
        "error.html",
        {"status": status, "message": message},
        request=request if page_context else None,
    )
    return HttpResponse(page, status=status, headers=headers)


def _size(number: int) -> str:
    if number >= 1024**3:
        return f"{number / 1024**3:.3g} GiB"
    return f"{number / 1024**2:.3g} MiB"


def body_limit(request: HttpRequest) -> int:
    content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if content_type in UPLOAD_CONTENT_TYPES:
        return settings.REQUEST_MAX_UPLOAD_BYTES
    return settings.REQUEST_MAX_BODY_BYTES


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return error_response(
        request,
        413,
        "request_too_large",
        f"The request body is larger than the limit of {_size(limit)}; nothing was read. "
        "Send fewer or smaller files at a time.",
    )


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


class CountedBody:
    """The server's input stream, counted: no read asks for more than one byte past the
    limit, and passing it raises BodyTooLarge (answered 413 by the middleware)."""

    def __init__(self, source, limit: int) -> None:
        self._source = source
        self._limit = limit
        self._count = 0

    def _allowance(self, size: int | None) -> int:
        room = self._limit + 1 - self._count
        return room if size is None or size < 0 else min(size, room)

    def _counted(self, data: bytes) -> bytes:
        self._count += len(data)
        if self._count > self._limit:
            raise BodyTooLarge(self._limit)
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._counted(self._source.read(self._allowance(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self._source.readline(self._allowance(size)))


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request)
        declared = request.META.get("CONTENT_LENGTH")
        if declared not in (None, ""):
            try:
                length = int(declared)
            except ValueError:
                return error_response(
                    request, 400, "bad_length", "The Content-Length header is not a number."
                )
            if length > limit:
                return _too_large(request, limit)
        elif self._chunked(request):
            self._read_chunked(request, limit)
        return self.get_response(request)

    @staticmethod
    def _chunked(request: HttpRequest) -> bool:
        encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        return "chunked" in encoding and "wsgi.input" in request.META

    @staticmethod
    def _read_chunked(request: HttpRequest, limit: int) -> None:
        """A body of unknown length is read (by a view that streams it) through a counter
        that stops it at the limit; Django itself reads no body without a length."""
        request.META["wsgi.input"] = CountedBody(request.META["wsgi.input"], limit)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        # Django's own in-memory limit (too many form fields, say): the same 413 answer.
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request, settings.REQUEST_MAX_BODY_BYTES)
        if isinstance(exception, BodyTooLarge):
            return _too_large(request, exception.limit)
        return None


# --- a database connection lost mid-request -------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Pauses before the second and third tries of a request that changes nothing: long enough for
# a terminated connection to be replaced, short enough not to hold a web thread for long.
DATABASE_RETRY_PAUSES_S = (0.1, 0.5)
DATABASE_RETRY_AFTER_S = 5
DATABASE_UNAVAILABLE = (
    "The database could not be reached for a moment, so nothing was saved or changed. "
    "Try again in a few seconds."
)


def database_fault_seen(request: HttpRequest, error: BaseException) -> None:
    """Note on the request that its database connection failed (the DRF exception handler,
    this middleware and the got_request_exception receiver below all call this)."""
    request.database_fault = error  # type: ignore[attr-defined]


def database_unavailable(request: HttpRequest) -> HttpResponse:
    return error_response(
        request,
        503,
        "database_unavailable",
        DATABASE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        page_context=False,
    )


def _note_uncaught(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """A database error raised outside a view (a middleware saving the session) reaches
    Django's 500 handler only; this marks the request so the middleware answers 503."""
    import sys

    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DATABASE_FAULTS):
        database_fault_seen(request, error)


got_request_exception.connect(_note_uncaught, dispatch_uid="annotate.database_fault")


def _socket_quiet(raw: psycopg.Connection) -> bool:
    """Whether an idle connection's socket has nothing to read. A connection PostgreSQL
    ended (a restart, pg_terminate_backend, idle_session_timeout) has its last message and
    the end of the stream waiting there; an idle connection that is alive has nothing."""
    try:
        if raw.closed or raw.broken:
            return False
        if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return False
        poller = select.poll()
        poller.register(raw.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError, psycopg.Error):
        return False


def health_checks_from_sockets() -> None:
    """Django checks a persistent connection (CONN_HEALTH_CHECKS) with a round trip,
    SELECT 1, before the first query of every request: on next-task, the busiest endpoint,
    a fifth of its statements (benchmarks/README.md). A connection whose socket is quiet
    is marked checked instead; one with anything to read is left to Django's SELECT 1,
    which closes it if it is dead so the request runs on a new one, as before."""
    for conn in connections.all(initialized_only=True):
        if (
            conn.connection is not None
            and conn.health_check_enabled
            and not conn.health_check_done
            and not conn.in_atomic_block
            and _socket_quiet(conn.connection)
        ):
            conn.health_check_done = True


# A 503 that does not say when to come back (the task queue was unreachable, and the job
# waits for the jobs sweep, which runs every minute) gets this.
DEFAULT_RETRY_AFTER_S = 30


class DatabaseFaultMiddleware:
    """First in MIDDLEWARE, so a retry runs the whole request again. Also gives every 503
    answer a Retry-After header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        health_checks_from_sockets()
        pauses = list(DATABASE_RETRY_PAUSES_S) if request.method in SAFE_METHODS else []
        while True:
            response = self.get_response(request)
            error = getattr(request, "database_fault", None)
            if error is None:
                if response.status_code == 503 and not response.has_header("Retry-After"):
                    response["Retry-After"] = str(DEFAULT_RETRY_AFTER_S)
                return response
            del request.database_fault
            fresh_connections()
            if not pauses:
                logger.warning(
                    "%s %s: database unavailable: %s", request.method, request.path, error
                )
                return database_unavailable(request)
            logger.info(
                "%s %s: database fault (%s); trying again", request.method, request.path, error
            )
            time.sleep(pauses.pop(0) * random.uniform(0.5, 1.5))

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, DATABASE_FAULTS):
            database_fault_seen(request, exception)
            return database_unavailable(request)
        return None
