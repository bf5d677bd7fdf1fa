"""The client's errors say what went wrong and what to do: a refused token, another
project, a role that may not, a body over the server's limit (413), too many logins (429,
with Retry-After), a login counter that is down (503), an unfinished export (409), a server
that is not there, an answer that is not the API's, jobs that fail or take too long."""

from __future__ import annotations

import http.server
import threading
import uuid

import numpy as np
import pytest
from annotate_client import (
    Client,
    ClientError,
    ConnectionFailed,
    JobFailed,
    PushRefused,
    WaitTimeout,
    probability_rows,
)
from django.contrib.auth.models import User
from django.test import override_settings

from activelearn.models import ScoringRun
from annotate.models.exchange_jobs import ExportJob
from tests.activelearn import onnx_builders
from tests.annotate.ingest_media import jpeg_bytes
from tests.annotate.test_login_throttle import CLOSED_PORT_CACHE
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_the_server_does_not_know_is_an_authentication_error(
    live_server, checked_session, project
):
    client = Client(live_server.url, "not-a-token", session=checked_session)

    with pytest.raises(ClientError) as refused:
        client.projects()

    error = refused.value
    assert error.is_authentication and error.detail == "Invalid token."
    assert str(error).startswith("Listing projects: the server did not accept your credentials")
    assert "Log in again" in str(error)


def test_a_wrong_password_is_refused_in_the_servers_words(live_server, checked_session, eve):
    with pytest.raises(ClientError) as refused:
        Client.login(live_server.url, "eve", "wrong", session=checked_session)

    assert refused.value.status == 400
    assert refused.value.errors == {"non_field_errors": ["Wrong username or password."]}
    assert str(refused.value) == (
        "Logging in as eve: refused (400 Bad Request).\n"
        "  non_field_errors: Wrong username or password."
    )


def test_another_projects_id_is_not_found_and_an_annotator_may_not_push(
    client_for, project, other_project, eve, alice
):
    with pytest.raises(ClientError) as missing:
        client_for(eve).classes(other_project)
    with pytest.raises(ClientError) as forbidden:
        client_for(alice).push_predictions(project, [{"asset": 1, "score": 0.5}], model_version="v")

    assert missing.value.status == 404
    assert "a project you are not a member of" in str(missing.value)
    assert forbidden.value.status == 403 and not forbidden.value.is_authentication
    assert "Your role in this project does not permit it" in str(forbidden.value)


def test_a_body_over_the_limit_is_split_and_a_file_over_it_alone_is_reported(
    client_for, project, eve, tmp_path, settings
):
    small = [tmp_path / f"small-{n}.jpg" for n in range(2)]
    for number, path in enumerate(small):
        path.write_bytes(jpeg_bytes(64, 48, seed=number))
    large = tmp_path / "large.jpg"
    large.write_bytes(jpeg_bytes(400, 300, seed=5))
    settings.REQUEST_MAX_UPLOAD_BYTES = max(p.stat().st_size for p in small) + 1000
    assert large.stat().st_size > settings.REQUEST_MAX_UPLOAD_BYTES

    report = client_for(eve).upload_media(project, [*small, large])

    assert [(r.name, r.status) for r in report.results] == [
        ("small-0.jpg", "created"), ("small-1.jpg", "created"), ("large.jpg", "error")
    ]  # fmt: skip
    assert "larger than the limit" in report.results[2].message


def test_a_push_over_the_limit_says_so(client_for, project, eve, settings):
    settings.REQUEST_MAX_UPLOAD_BYTES = 100
    rows = probability_rows(np.full((20, 2), 0.5), list(range(1, 21)))

    with pytest.raises(ClientError) as refused:
        client_for(eve).push_predictions(project, rows, model_version="v1")

    assert (refused.value.status, refused.value.code) == (413, "request_too_large")
    assert "too large for the server (413)" in str(refused.value)
    assert "Send fewer or smaller files at a time." in str(refused.value)


def test_a_push_whose_every_row_is_refused_raises_with_each_rows_reason(client_for, project, eve):
    with pytest.raises(PushRefused) as refused:
        client_for(eve).push_predictions(
            project, [{"asset": 424242, "score": 0.1}, {"asset": 1, "probs": [np.nan, 1]}],
            model_version="v1",
        )  # fmt: skip

    result = refused.value.result
    assert (result.rows, result.stored, result.error_count) == (2, 0, 2)
    assert [e.row for e in result.errors] == [1, 2]
    assert "row 1: no asset 424242" in str(refused.value)


def test_a_checkpoint_spec_the_server_cannot_use_is_refused_by_field(
    client_for, project, eve, tmp_path
):
    model = tmp_path / "model.onnx"
    model.write_bytes(onnx_builders.classifier())
    spec = onnx_builders.spec()
    spec["input"]["size"] = [0, 32]

    with pytest.raises(ClientError) as refused:
        client_for(eve).upload_checkpoint(project, model, name="bad", spec=spec)

    assert refused.value.status == 400
    assert list(refused.value.errors) and all(
        key.startswith("spec") for key in refused.value.errors
    ), refused.value.errors
    assert "\n  spec" in str(refused.value)


@override_settings(LOGIN_FAILURES_PER_USERNAME=2, LOGIN_FAILURES_PER_ADDRESS=1000)
def test_too_many_failed_logins_say_when_to_try_again(live_server, checked_session):
    username = f"user-{uuid.uuid4().hex[:8]}"
    User.objects.create_user(username, password=PASSWORD)
    for _ in range(2):
        with pytest.raises(ClientError):
            Client.login(live_server.url, username, "guess", session=checked_session)

    with pytest.raises(ClientError) as throttled:
        Client.login(live_server.url, username, PASSWORD, session=checked_session)

    error = throttled.value
    assert (error.status, error.code) == (429, "login_throttled")
    assert error.retry_after and error.retry_after > 0
    assert str(error) == (
        f"Logging in as {username}: too many requests (429). Too many failed login attempts. "
        "Try again in 15 minutes."
    )


def test_a_login_while_the_attempt_counter_is_down_is_a_clear_503(
    live_server, checked_session, eve
):
    with override_settings(CACHES=CLOSED_PORT_CACHE), pytest.raises(ClientError) as unavailable:
        Client.login(live_server.url, "eve", PASSWORD, session=checked_session)

    assert (unavailable.value.status, unavailable.value.code) == (503, "login_unavailable")
    assert "the server is unavailable for now (503)" in str(unavailable.value)
    assert str(unavailable.value).endswith("Try again shortly.")


def test_downloading_an_unfinished_export_is_a_conflict(client_for, project, eve, tmp_path):
    job = ExportJob.objects.create(project=project, format="coco")  # never sent to a worker

    with pytest.raises(ClientError) as conflict:
        client_for(eve).download_export(job.pk, tmp_path)

    assert (conflict.value.status, conflict.value.code) == (409, "not_ready")
    assert "conflict (409). The export is not ready." in str(conflict.value)
    assert not list(tmp_path.iterdir())


def test_a_server_that_is_not_there_is_named_with_the_systems_reason():
    with pytest.raises(ConnectionFailed) as unreachable:
        Client("http://127.0.0.1:9", "token").projects()

    assert unreachable.value.status is None
    assert "cannot reach the server at http://127.0.0.1:9" in str(unreachable.value)
    assert "Connection refused" in str(unreachable.value)
    assert "--url or ANNOTATE_URL" in str(unreachable.value)


def test_an_answer_that_is_not_the_apis_is_shown_as_text():
    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ClientError) as failed:
            Client(f"http://127.0.0.1:{server.server_port}", "t").projects()
    finally:
        server.shutdown()

    assert failed.value.status == 502
    assert "the server failed (502 Bad Gateway)" in str(failed.value)
    assert "502 Bad Gateway</h1>" in str(failed.value)


def test_waiting_for_a_run_follows_the_one_that_superseded_it(client_for, project, eve):
    old = ScoringRun.objects.create(project=project, reason="manual", state="superseded")
    new = ScoringRun.objects.create(
        project=project, reason="manual", state="done", chunks_total=1, chunks_done=1
    )

    run = client_for(eve).wait_for_scoring(project, old.pk, timeout=5, poll_interval=0.1)

    assert run.id == new.pk and run.state == "done" and run.progress == 1.0


def test_a_failed_run_and_a_run_that_takes_too_long_are_errors(client_for, project, eve):
    client = client_for(eve)
    failed = ScoringRun.objects.create(
        project=project, reason="manual", state="failed", error="The model file is gone."
    )
    with pytest.raises(JobFailed) as ended:
        client.wait_for_scoring(project, failed.pk)
    waiting = ScoringRun.objects.create(
        project=project, reason="manual", error="The broker is unreachable; the run waits."
    )
    with pytest.raises(WaitTimeout) as slow:
        client.wait_for_scoring(project, timeout=0.3, poll_interval=0.1)

    assert str(ended.value) == (
        f"Scoring run {failed.pk} of project {project.pk} failed: The model file is gone."
    )
    assert ended.value.job.state == "failed"
    assert str(slow.value) == (
        f"Scoring run {waiting.pk} of project {project.pk} is still queued after 0.3 s "
        "(0 of 0 chunks). The broker is unreachable; the run waits. It goes on on the server; "
        "wait again with a longer timeout."
    )


def test_no_scoring_run_yet_is_nothing_to_wait_for(client_for, project, eve):
    assert client_for(eve).wait_for_scoring(project, timeout=1) is None
