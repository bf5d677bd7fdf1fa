"""Request bodies over the limits are refused with 413 before they are read: JSON for API
clients, a page for people; a chunked body is counted while read and stopped at the limit."""

from __future__ import annotations

import io
import json

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from annotate.middleware import RequestBodyLimitMiddleware

from .api_helpers import make_task

pytestmark = pytest.mark.django_db


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anyone reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readinto = read


def body_echo(request):
    from django.http import HttpResponse

    return HttpResponse(str(len(request.body)))


def test_an_oversized_json_body_gets_a_413_json_error_not_a_400_page(project, alice):
    task = make_task(project, annotator=alice)
    client = APIClient()
    client.force_authenticate(alice)
    body = json.dumps({"boxes": [], "padding": "x" * (11 * 1024**2)})

    response = client.put(
        f"/api/tasks/{task.pk}/annotation/", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "request_too_large"
    assert "larger than the limit of 10 MiB" in response.json()["detail"]


def test_an_oversized_upload_is_refused_from_its_content_length_before_it_is_read(settings):
    settings.REQUEST_MAX_UPLOAD_BYTES = 1000
    request = RequestFactory().post("/api/projects/1/assets/upload/")
    request.META.update(
        CONTENT_TYPE="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(5 * 1024**3),
        **{"wsgi.input": Unreadable()},
    )

    response = RequestBodyLimitMiddleware(body_echo)(request)

    assert response.status_code == 413
    assert json.loads(response.content)["code"] == "request_too_large"


def test_an_oversized_upload_to_the_page_gets_a_413_page_saying_why(settings, project, pat):
    settings.REQUEST_MAX_UPLOAD_BYTES = 1000
    client = APIClient()
    client.force_login(pat)

    response = client.post(
        f"/projects/{project.pk}/upload/", {"files": io.BytesIO(b"x" * 5000)}, format="multipart"
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert b"larger than the limit" in response.content


def chunked(data: bytes):
    request = RequestFactory().post("/api/x/", content_type="application/x-ndjson")
    del request.META["CONTENT_LENGTH"]
    request.META.update(HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": io.BytesIO(data)})
    return request


def streamed_lines(request):
    """A view that streams a chunked body line by line, as the predictions push does."""
    from django.http import HttpResponse

    stream = request.META["wsgi.input"]
    return HttpResponse(str(sum(1 for _ in iter(stream.readline, b""))))


def test_a_chunked_body_over_the_limit_is_stopped_while_it_is_read(settings):
    settings.REQUEST_MAX_UPLOAD_BYTES = 1000
    source = io.BytesIO(b"x" * 100_000)  # one long line: never read whole
    request = chunked(b"")
    request.META["wsgi.input"] = source

    response = RequestBodyLimitMiddleware(middleware_answers(streamed_lines))(request)

    assert response.status_code == 413
    assert json.loads(response.content)["code"] == "request_too_large"
    assert source.tell() <= 1001  # read up to the limit and one byte more, no further


def test_a_chunked_body_within_the_limit_reaches_the_view_whole(settings):
    settings.REQUEST_MAX_UPLOAD_BYTES = 1000
    handler = RequestBodyLimitMiddleware(middleware_answers(streamed_lines))
    response = handler(chunked(b"line\n" * 199))
    assert (response.status_code, response.content) == (200, b"199")


def middleware_answers(view):
    """The view as Django runs it: an exception it raises goes to process_exception."""

    def run(request):
        try:
            return view(request)
        except Exception as error:
            answer = RequestBodyLimitMiddleware(view).process_exception(request, error)
            if answer is None:
                raise
            return answer

    return run


def test_a_content_length_that_is_not_a_number_is_a_400(settings):
    request = RequestFactory().post("/api/x/", content_type="application/json")
    request.META["CONTENT_LENGTH"] = "lots"
    response = RequestBodyLimitMiddleware(body_echo)(request)
    assert response.status_code == 400
