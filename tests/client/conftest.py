"""The client package is imported from its folder (no install needed), and every answer the
live server gives it is checked against the OpenAPI schema, as tests/conftest.py does for
Django's test client: a client that passes while the schema lies fails here."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CLIENT_SOURCE = Path(__file__).resolve().parents[2] / "client" / "src"
if str(CLIENT_SOURCE) not in sys.path:
    sys.path.insert(0, str(CLIENT_SOURCE))

from annotate_client import Client  # noqa: E402


class _Answer:
    """A requests answer seen as tests/schema_check.py reads a Django one."""

    def __init__(self, response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.request = {
            "REQUEST_METHOD": response.request.method,
            "PATH_INFO": urlsplit(response.request.url).path,
        }

    def get(self, name: str, default: str = "") -> str:
        return self._response.headers.get(name, default)

    @property
    def content(self) -> bytes:
        return self._response.content  # read only for JSON answers, never a download


def _is_file(operation: dict, status: int) -> bool:
    """A file download declared as binary (a zip): its bytes are the file's, never read
    here. A download the schema describes as JSON (a COCO file) is checked like an answer."""
    declared = operation["responses"].get(str(status), {}).get("content", {})
    return any(media.get("schema", {}).get("format") == "binary" for media in declared.values())


@pytest.fixture(autouse=True)
def _own_login_counters(settings):
    """Failed logins are counted per client address in the shared cache, and every request
    here comes from 127.0.0.1: each test counts under its own key prefix, so the failures
    one test makes on purpose never lock out another's login."""
    settings.CACHES = {
        name: {**options, "KEY_PREFIX": f"client-test-{uuid.uuid4().hex[:12]}"}
        for name, options in settings.CACHES.items()
    }


@pytest.fixture
def schema_problems():
    return []


@pytest.fixture
def checked_session(schema_problems):
    """A requests session whose every /api/ answer is checked against the schema; a path
    and method the schema does not have is a problem too."""
    import requests

    from tests.schema_check import answer_problem, operation_for

    def check(response, *args, **kwargs):
        answer = _Answer(response)
        method, path = answer.request["REQUEST_METHOD"], answer.request["PATH_INFO"]
        if not path.startswith("/api/"):
            return response
        found = operation_for(method, path)
        if found is None:
            schema_problems.append(f"{method} {path} is not in the schema")
        elif not _is_file(found[1], response.status_code) and (problem := answer_problem(answer)):
            schema_problems.append(problem)
        return response

    session = requests.Session()
    session.hooks["response"].append(check)
    yield session
    # Kept-alive connections hold a live-server thread, and its database session, open.
    session.close()
    assert not schema_problems, "Answers the schema does not describe:\n" + "\n".join(
        schema_problems
    )


@pytest.fixture
def client_for(live_server, checked_session):
    """client_for(user) -> a Client of the live server with that user's token."""
    from rest_framework.authtoken.models import Token

    def make(user, **options) -> Client:
        token, _ = Token.objects.get_or_create(user=user)
        return Client(live_server.url, token.key, session=checked_session, **options)

    return make
