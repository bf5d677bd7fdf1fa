"""Request bodies are bounded before they are read: a declared Content-Length over the limit
is answered 413 at once, and a chunked body (no length) is counted while it is read and
refused as soon as it passes the limit (a view that streams it sees BodyTooLarge), so no
oversized upload is ever spooled whole.

API clients (paths under /api/, XHR, or asking for JSON) get {"detail", "code"} as JSON;
pages get the same sentence on an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

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
    request: HttpRequest, status: int, code: str, message: str, *, headers: dict | None = None
) -> HttpResponse:
    """One answer in words, as JSON for API clients and as a page for people."""
    if wants_json(request):
        return JsonResponse({"detail": message, "code": code}, status=status, headers=headers)
    page = render_to_string("error.html", {"status": status, "message": message}, request=request)
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
