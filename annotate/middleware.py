"""Request bodies are bounded before they are read: a declared Content-Length over the limit
is answered 413 at once, and a chunked body (no length) is counted while it is read and
refused as soon as it passes the limit, so no oversized upload is ever spooled whole.

API clients (paths under /api/, XHR, or asking for JSON) get {"detail", "code"} as JSON;
pages get the same sentence on an HTML page.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import LimitedStream
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
READ_CHUNK = 1024 * 1024


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
            refused = self._read_chunked(request, limit)
            if refused is not None:
                return refused
        return self.get_response(request)

    @staticmethod
    def _chunked(request: HttpRequest) -> bool:
        encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        return "chunked" in encoding and "wsgi.input" in request.META

    @staticmethod
    def _read_chunked(request: HttpRequest, limit: int) -> HttpResponse | None:
        """Read a body of unknown length, counting, into a spooled file of at most `limit`
        bytes; then hand it to Django as a body of known length."""
        source = request.META["wsgi.input"]
        spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115 (the request owns it)
        size = 0
        while chunk := source.read(min(READ_CHUNK, limit + 1 - size)):
            size += len(chunk)
            if size > limit:
                spool.close()
                return _too_large(request, limit)
            spool.write(chunk)
        spool.seek(0)
        request._stream = LimitedStream(spool, size)
        request.META["CONTENT_LENGTH"] = str(size)
        request._body_spool = spool  # closed with the request
        return None

    def process_exception(self, request: HttpRequest, exception: Exception):
        # Django's own in-memory limit (too many form fields, say): the same 413 answer.
        if isinstance(exception, RequestDataTooBig):
            return _too_large(request, settings.REQUEST_MAX_BODY_BYTES)
        return None
