"""Schema conformance against a live server: schemathesis sends generated requests (valid and
invalid) to every operation of /api/schema/ as each role would, with that role's token, and
fails on any 5xx or any answer the schema does not describe (status, content type, body).

Each role gets its own project with real media, leased and submitted tasks, a checkpoint, a
scoring run, an export and an import, and every path id is one of those objects, so most
requests reach the code behind the permission check. The destructive operations (DELETE of an
asset and of a class; there is no project DELETE, logout or token revocation) and the task
lifecycle (heartbeat, skip, submit, review) each get an object of their own, so a case that
succeeds leaves later operations their data. The run is bounded and deterministic:
a fixed seed, Hypothesis derandomized without its example database, and a fixed number of
examples per operation. Messages to the worker are recorded, not sent: no Celery worker
runs here, and none of another test may act on this data.

Run only this: `.venv/bin/pytest tests/annotate/test_schema_conformance.py -q -n 2`.
"""

from __future__ import annotations

import io
import uuid

import pytest
import requests
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from activelearn.models import ScoringRun
from activelearn.versions.services import checkpoint_upload
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_create, export_run, export_write, import_create
from annotate.models import AnnotationTask, LabelClass
from tests.activelearn import onnx_builders
from tests.annotate.api_helpers import make_annotation
from tests.browser.media import image_task, video_task
from tests.conftest import PASSWORD

SEED = 20261201
# Examples per operation in the fuzzing phase (the examples and coverage phases add their
# own, bounded by the schema): enough to find the mismatches of the first runs by hand,
# small enough that four roles take about two minutes on two cores.
MAX_EXAMPLES = 10
# Bodies stay small: upload fields are schemathesis' sample files (a few hundred bytes) or
# short random bytes. Anything larger means generation changed, and the run says so.
MAX_REQUEST_BYTES = 256 * 1024
ROLES = {"annotator": "alice", "reviewer": "rita", "manager": "pat", "ml_engineer": "eve"}
# The coverage phase (every boundary value, wrong type, null and missing field of every
# parameter and body, deterministic, ~4,000 requests in all) runs once per operation, as the
# role whose work it is, so its requests get past the permission check; every role fuzzes
# every operation. Operations not listed are the manager's.
COVERED_AS = {
    "annotator": [
        "POST /api/projects/{id}/tasks/next/",
        "GET /api/tasks/{id}/annotation/",
        "PUT /api/tasks/{id}/annotation/",
        "POST /api/tasks/{id}/heartbeat/",
        "POST /api/tasks/{id}/skip/",
        "POST /api/tasks/{id}/submit/",
        "GET /api/tasks/{id}/payload/",
        "GET /api/tasks/{id}/suggestions/",
        "GET /api/tasks/",
    ],
    "reviewer": [
        "POST /api/tasks/{id}/review/",
        "GET /api/tasks/{id}/annotations/",
        "GET /api/tasks/{id}/annotations/latest/",
        "GET /api/annotations/{id}/",
    ],
    "ml_engineer": [
        "GET /api/projects/{id}/checkpoints/",
        "POST /api/projects/{id}/checkpoints/",
        "POST /api/checkpoints/{id}/activate/",
        "POST /api/projects/{id}/checkpoints/rollback/",
        "GET /api/projects/{id}/learning-settings/",
        "PATCH /api/projects/{id}/learning-settings/",
        "POST /api/projects/{id}/predictions/",
        "GET /api/projects/{id}/scoring-runs/",
        "POST /api/projects/{id}/scoring-runs/",
        "GET /api/projects/{id}/scoring-runs/{run_id}/",
        "GET /api/projects/{id}/learning-curve/",
        "GET /api/projects/{id}/joint-metrics/",
        "GET /api/projects/{id}/loop-status/",
        "GET /api/projects/{id}/queue/",
        "GET /api/projects/{id}/exports/",
        "POST /api/projects/{id}/exports/",
        "GET /api/exports/{id}/",
        "GET /api/exports/{id}/download/",
        "GET /api/projects/{id}/imports/",
        "POST /api/projects/{id}/imports/",
        "GET /api/imports/{id}/",
    ],
}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(params=list(ROLES))
def role(request) -> str:
    return request.param


@pytest.fixture
def worker_messages(monkeypatch) -> list:
    """What would have gone to the worker: recorded, never sent."""
    sent: list = []
    monkeypatch.setattr("annotate.jobs.job_send", lambda name, args: sent.append((name, args)))
    return sent


@pytest.fixture
def quiet_throttles(settings, monkeypatch):
    """Failed logins and the token endpoint's rate count in a cache of this test's own (the
    shared Redis counts 127.0.0.1 for the login-throttle tests running beside this one), and
    their limits are out of reach, so /api/token/ is fuzzed instead of answering 429."""
    from annotate.api.views import TokenRateThrottle

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"schema-conformance-{uuid.uuid4().hex}",
        }
    }
    settings.LOGIN_FAILURES_PER_USERNAME = 10**9
    settings.LOGIN_FAILURES_PER_ADDRESS = 10**9
    monkeypatch.setattr(TokenRateThrottle, "rate", "1000000/minute")


def _data_for(project, user, author) -> dict[str, int]:
    """The objects each path id points at: {operation label or path: id}."""
    leased = {
        name: image_task(project, lease_user=user)
        for name in ("heartbeat", "skip", "submit", "draft", "payload")
    }
    image_task(project)  # pending: for tasks/next
    image_task(project)
    submitted = image_task(project)
    AnnotationTask.objects.filter(pk=submitted.pk).update(
        state=AnnotationTask.State.SUBMITTED, annotator=author
    )
    submitted.refresh_from_db()
    annotation = make_annotation(submitted, author=author)
    video = video_task(project, frames=3)
    AnnotationTask.objects.filter(pk=video.pk).update(
        state=AnnotationTask.State.ACCEPTED, annotator=author
    )
    make_annotation(video, author=author)
    spare_asset = image_task(project).asset
    label_class = project.label_classes.order_by("order").first()
    version = checkpoint_upload(
        project=project,
        user=author,
        name="fixture-classifier",
        file=SimpleUploadedFile("model.onnx", onnx_builders.classifier(classes=2)),
        spec=onnx_builders.spec(layout="probs"),
    )
    # After the checkpoint, whose classes are the project's.
    spare_class = LabelClass.objects.create(
        project=project, name="spare", color="#4363d8", hotkey="3", order=2
    )
    run = ScoringRun.objects.create(project=project, state="done", chunks_total=1, chunks_done=1)
    export = export_create(project=project, user=author, format="coco", state_filter="submitted")
    export_run(job_id=export.pk)
    labels = io.BytesIO()
    export_write(project=project, format="coco", export_filter=ExportFilter(), out=labels)
    imported = import_create(
        project=project,
        user=author,
        format="coco",
        upload=SimpleUploadedFile("labels.json", labels.getvalue()),
    )
    return {
        "/api/annotations/{id}/": annotation.pk,
        "/api/assets/{id}/": video.asset_id,
        "DELETE /api/assets/{id}/": spare_asset.pk,
        "/api/assets/{id}/frames/": video.asset_id,
        "/api/checkpoints/{id}/activate/": version.pk,
        "/api/classes/{id}/": label_class.pk,
        "DELETE /api/classes/{id}/": spare_class.pk,
        "/api/exports/{id}/": export.pk,
        "/api/exports/{id}/download/": export.pk,
        "/api/imports/{id}/": imported.pk,
        "/api/projects/{id}/scoring-runs/{run_id}/": run.pk,
        "/api/tasks/{id}/": video.pk,
        "GET /api/tasks/{id}/annotation/": leased["draft"].pk,
        "PUT /api/tasks/{id}/annotation/": leased["draft"].pk,
        "/api/tasks/{id}/annotations/": video.pk,
        "/api/tasks/{id}/annotations/latest/": video.pk,
        "/api/tasks/{id}/heartbeat/": leased["heartbeat"].pk,
        "/api/tasks/{id}/payload/": video.pk,
        "/api/tasks/{id}/review/": submitted.pk,
        "/api/tasks/{id}/skip/": leased["skip"].pk,
        "/api/tasks/{id}/submit/": leased["submit"].pk,
        "/api/tasks/{id}/suggestions/": video.pk,
    }


def _coverage_elsewhere(role: str) -> dict:
    """An operations entry that turns the coverage phase off where another role runs it."""
    if role in COVERED_AS:
        selected = {"exclude-name": COVERED_AS[role]}
    else:
        selected = {"include-name": [name for names in COVERED_AS.values() for name in names]}
    return {**selected, "phases": {"coverage": {"enabled": False}}}


def _config(token: str, role: str, project_id: int, ids: dict[str, int]) -> SchemathesisConfig:
    operations = [_coverage_elsewhere(role)]
    for key, value in ids.items():
        name = {"include-name": key} if " " in key else {"include-path": key}
        parameter = "path.run_id" if "{run_id}" in key else "path.id"
        parameters = {parameter: value}
        if "{run_id}" in key:
            parameters["path.id"] = project_id
        operations.append({**name, "parameters": parameters})
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Token {token}"},
            "request-timeout": 60,
            "suppress-health-check": ["all"],
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            # Every other {id} (and {project_id}) is the role's project.
            "parameters": {"path.id": project_id, "path.project_id": project_id},
            "operations": operations,
        }
    )


@pytest.fixture
def api_schema(request, role, live_server, project, media_root, worker_messages, quiet_throttles):
    # schemathesis 4.32.5 names each operation's subtest through the item's `_nodeid`, which
    # pytest 9.2 no longer has (it keeps `_id`): give the item one to read and rename.
    request.node._nodeid = request.node.nodeid
    author = request.getfixturevalue("alice")
    user = request.getfixturevalue(ROLES[role])
    ids = _data_for(project, user, author)
    answer = requests.post(
        f"{live_server.url}/api/token/",
        json={"username": user.username, "password": PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    loaded = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/",
        config=_config(token, role, project.pk, ids),
        headers={"Authorization": f"Token {token}"},
        timeout=60,
    )
    # A name here that no operation has would silently move its coverage or its ids.
    operations = [result.ok() for result in loaded.get_all_operations()]
    known = {op.label for op in operations} | {op.path for op in operations}
    named = {name for names in COVERED_AS.values() for name in names} | set(ids)
    assert named <= known, f"not operations of /api/schema/: {sorted(named - known)}"
    return loaded


@schema.parametrize()
def test_every_operation_answers_as_the_schema_says(case):
    response = case.call_and_validate(checks=CHECKS)
    sent = len(response.request.body or b"")
    assert sent <= MAX_REQUEST_BYTES, f"{case.operation.label} sent a {sent}-byte body"
