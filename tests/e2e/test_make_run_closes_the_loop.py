"""What a newcomer gets from `make run`, end to end over HTTP: no DATABASE_URL and no REDIS_URL
(the embedded PostgreSQL, a private Redis, a real Celery worker and the web server, all started by
`manage.py serve` in a fresh VAR_DIR), the demo project, and the learning loop closing on it:
the cold-start run finishes, labels made as the annotator and accepted by the reviewer
retrain the built-in baseline at the demo's threshold, the scoring run that follows scores
every pending task, the queue order changes, a prediction push stores rows and an export
downloads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.annotate.test_serve import Serve

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker
LOOP_TIMEOUT_S = 240


class Api:
    """A token client of the running server."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.token = None
        self.token = self.call("POST", "/api/token/", {"username": username, "password": password})[
            "token"
        ]

    def call(self, method: str, path: str, body=None, *, raw: bool = False, expect=(200, 201, 202)):
        data = None
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, content = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, content = error.code, error.read()
        assert status in expect, f"{method} {path}: {status} {content[:1000]!r}"
        return content if raw else json.loads(content or b"null")

    def all_pages(self, path: str) -> list:
        """Every row of a list, following its `next` links (page numbers or a cursor)."""
        rows = []
        while True:
            body = self.call("GET", path)
            rows += body["results"]
            if not body.get("next"):
                return rows
            parts = urllib.parse.urlsplit(body["next"])
            path = f"{parts.path}?{parts.query}"


def wait_for(predicate, *, what: str, timeout: float = LOOP_TIMEOUT_S, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{log()}")


@pytest.fixture
def newcomer_env(tmp_path) -> dict[str, str]:
    """`make run`'s environment on a machine where nothing was configured."""
    unset = {"DATABASE_URL", "EMBEDDED_POSTGRES_DATA", "REDIS_URL", "TEST_DB_NAME", "PORT"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        DEBUG="1",
        VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "var" / "media"),
        STATIC_ROOT=str(tmp_path / "static"),
        PYTHONUNBUFFERED="1",
    )
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return env


def queue_order(api: Api, project_id: int) -> list[int]:
    return [row["id"] for row in api.all_pages(f"/api/projects/{project_id}/queue/")]


def test_make_run_on_the_embedded_default_closes_the_learning_loop(newcomer_env, tmp_path):
    serve = Serve(newcomer_env, tmp_path / "serve.log")
    try:
        serve.wait_until_up(timeout=180)
        assert "PostgreSQL: embedded" in serve.text
        base = f"http://127.0.0.1:{serve.port}"
        annotator = Api(base, "annotator", "demo-annotator")
        reviewer = Api(base, "reviewer", "demo-reviewer")
        engineer = Api(base, "mlengineer", "demo-mlengineer")
        projects = annotator.call("GET", "/api/projects/")["results"]
        project = next(p for p in projects if p["name"].startswith("Demo"))
        pid = project["id"]
        runs_path = f"/api/projects/{pid}/scoring-runs/"

        def runs() -> list[dict]:
            return engineer.all_pages(runs_path)

        # The cold start orders the queue by coverage before anyone labels.
        wait_for(
            lambda: any(r["reason"] == "cold_start" and r["state"] == "done" for r in runs()),
            what="the cold-start run to finish",
            log=lambda: f"{runs()}\n{serve.log}",
        )
        assert not [r for r in runs() if r["state"] == "failed"], runs()
        tasks = engineer.all_pages(f"/api/tasks/?project={pid}")
        assert len(tasks) >= 40, f"the demo has {len(tasks)} tasks"
        before = queue_order(engineer, pid)
        classes = [c["name"] for c in engineer.call("GET", f"/api/projects/{pid}/classes/")]
        settings = engineer.call("GET", f"/api/projects/{pid}/learning-settings/")
        threshold = settings["retrain_every_accepted"]
        assert threshold <= 5, settings

        # The annotator labels in queue order, the reviewer accepts.
        labeled = []
        for index in range(threshold):
            task = annotator.call("POST", f"/api/projects/{pid}/tasks/next/", {})["task"]
            assert task is not None
            if index == 0:
                assert task["id"] == before[0], "the first task is not the queue's first"
            box = {"frame": None, "label": classes[index % 2], "x": 10, "y": 10, "w": 60, "h": 50}
            if task["kind"] == "video":
                box["frame"] = task["frame_start"]
                payload = {"tracks": [{"track_id": 1, "label": box["label"], "shapes": [box]}]}
            else:
                payload = {"boxes": [box]}
            annotator.call(
                "POST",
                f"/api/tasks/{task['id']}/submit/",
                {"base_version": None, "payload": payload},
            )
            labeled.append(task["id"])
        for task_id in labeled:
            reviewer.call("POST", f"/api/tasks/{task_id}/review/", {"decision": "accept"})

        # The built-in baseline trains on those labels and a scoring run with it follows.
        def trained():
            versions = engineer.call("GET", f"/api/projects/{pid}/checkpoints/")
            versions = versions["results"] if isinstance(versions, dict) else versions
            return [v for v in versions if v["kind"] == "baseline" and v["is_active"]]

        baseline = wait_for(trained, what="the baseline to train", log=lambda: serve.log)[0]

        def scored_run():
            return [
                r for r in runs() if r["model_version"] == baseline["id"] and r["state"] == "done"
            ]

        run = wait_for(scored_run, what="a scoring run with the baseline", log=lambda: serve.log)[0]
        pending = [
            t for t in engineer.all_pages(f"/api/tasks/?project={pid}") if t["state"] == "pending"
        ]
        assert run["tasks_scored"] >= len(pending) > 0, (run, len(pending))
        queue = engineer.all_pages(f"/api/projects/{pid}/queue/")
        unscored = [row["id"] for row in queue if row["score"] is None]
        assert unscored == [], f"pending tasks without a score: {unscored}"
        after = [row["id"] for row in queue]
        assert after != [t for t in before if t in set(after)], "the queue order did not change"
        status = engineer.call("GET", f"/api/projects/{pid}/loop-status/")
        assert "trained on" in status["text"] and "re-ranked" in status["text"], status

        # The annotator's next task is the new queue's first.
        following = annotator.call("POST", f"/api/projects/{pid}/tasks/next/", {})["task"]
        assert following["id"] == after[0]

        # Pushed predictions are stored (a row per asset: one prediction per task of it).
        assets = {t["asset"] for t in engineer.all_pages(f"/api/tasks/?project={pid}")}
        rows = [
            {"asset": asset, "model_version": "customer-v1", "score": 0.5 + i / 1000}
            for i, asset in enumerate(sorted(assets)[:10])
        ]
        pushed = engineer.call("POST", f"/api/projects/{pid}/predictions/", rows)
        assert pushed["error_count"] == 0 and pushed["stored"] >= len(rows), pushed
        assert pushed["version_active"] is False and pushed["message"], pushed

        # An export of the accepted labels downloads.
        job = engineer.call("POST", f"/api/projects/{pid}/exports/", {"format": "coco"})
        done = wait_for(
            lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
                engineer.call("GET", f"/api/exports/{job['id']}/")
            ),
            what="the export",
            timeout=120,
        )
        assert done["state"] == "done", done
        exported = json.loads(engineer.call("GET", f"/api/exports/{job['id']}/download/", raw=True))
        assert len(exported["annotations"]) >= threshold

        serve.process.send_signal(signal.SIGINT)
        assert serve.process.wait(timeout=60) == 0, serve.log
    finally:
        serve.cleanup()
