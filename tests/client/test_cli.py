"""annotate-client, the command-line tool, against a live server: login stores the token
readable by its owner only, then upload, push from .npz and JSON Lines, checkpoint upload
and activation, waiting for scoring and export; each failure has its message and exit
code (3 credentials, 4 unreachable, 5 timed out, 2 usage, 1 refused)."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from annotate_client import cli

from activelearn.models import ModelVersion, Prediction, ScoringRun
from annotate.models import Asset
from tests.activelearn import onnx_builders
from tests.annotate.exchange_builders import labeled_project
from tests.annotate.ingest_media import jpeg_bytes
from tests.client.conftest import CLIENT_SOURCE
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "config" / "annotate-client.json"
    monkeypatch.setenv("ANNOTATE_CONFIG", str(path))
    for name in ("ANNOTATE_URL", "ANNOTATE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def run(capsys, monkeypatch, config_file):
    """run(*argv, stdin="") -> (exit code, stdout, stderr) of the tool in this process."""

    def run_tool(*argv: str, stdin: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main([str(arg) for arg in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run_tool


@pytest.fixture
def logged_in(live_server, run, eve):
    code, _, err = run("login", "--url", live_server.url, "-u", "eve", "--password-stdin",
                       stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0, err
    return run


def photos(tmp_path, count: int = 3):
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    for number in range(count):
        (folder / f"p{number}.jpg").write_bytes(jpeg_bytes(64, 48, seed=20 + number))
    return folder


def test_login_stores_the_token_readable_by_its_owner_only(live_server, run, config_file, eve):
    code, _, err = run("login", "--url", live_server.url, "--username", "eve",
                       "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip

    assert code == 0
    assert f"Logged in to {live_server.url} as eve" in err
    stored = json.loads(config_file.read_text())
    assert stored["url"] == live_server.url and len(stored["token"]) == 40
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    assert str(config_file) in err and "readable by you only" in err


def test_a_stored_token_lists_projects_and_logout_forgets_it(logged_in, config_file, project):
    code, out, _ = logged_in("projects", "--json")
    assert code == 0
    assert [(p["id"], p["role"]) for p in json.loads(out)] == [(project.pk, "ml_engineer")]

    assert logged_in("logout")[0] == 0
    code, _, err = logged_in("projects")
    assert code == cli.AUTH
    assert "not logged in: run `annotate-client login`" in err
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600


def test_a_token_given_on_stdin_is_checked_before_it_is_stored(live_server, run, config_file, eve):
    code, _, err = run("login", "--url", live_server.url, "--token-stdin", stdin="bad-token\n")

    assert code == cli.AUTH
    assert "the server did not accept your credentials" in err
    assert not config_file.exists()


def test_upload_push_from_npz_and_waiting_for_the_scoring_it_starts(
    logged_in, project, tmp_path, celery_worker
):
    code, out, err = logged_in("upload", project.pk, photos(tmp_path), "--quiet")
    assert code == 0, err
    assert "3 created, 0 duplicates, 0 refused." in err
    assert "p0.jpg" in out and "created" in out
    assets = sorted(Asset.objects.filter(project=project).values_list("pk", flat=True))
    arrays = tmp_path / "predictions.npz"
    np.savez(arrays, assets=np.array(assets), probs=np.array([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]]))

    code, _, err = logged_in("push", project.pk, arrays, "-m", "npz-v1", "--wait", "--quiet")

    assert code == 0, err
    assert "3 of 3 rows accepted for 'npz-v1', 0 refused (3 task predictions stored)." in err
    assert "'npz-v1' is now the active version" in err
    assert "Scoring run" in err and "is done: 3 tasks ranked with 'npz-v1'" in err
    assert ModelVersion.objects.get(project=project, name="npz-v1").is_active


def test_boxes_in_an_npz_with_class_indices_and_json_lines_with_a_bad_row(
    logged_in, project, tmp_path
):
    logged_in("upload", project.pk, photos(tmp_path, 2), "-q")
    first, second = sorted(Asset.objects.filter(project=project).values_list("pk", flat=True))
    arrays = tmp_path / "boxes.npz"
    np.savez(
        arrays,
        assets=np.array([first, second]),
        boxes=np.array([[[1, 1, 20, 20]], [[0, 0, 0, 0]]]),
        box_scores=np.array([[0.9], [0.0]]),
        box_labels=np.array([[1], [0]]),
        box_counts=np.array([1, 0]),
    )
    code, _, err = logged_in("push", project.pk, arrays, "-m", "det-v1", "-q")
    assert code == 0, err
    boxes = Prediction.objects.get(task__asset_id=first, model_version__name="det-v1").data
    assert [(b["label"], b["w"]) for b in boxes["boxes"]] == [("bicycle", 19.0)]

    lines = tmp_path / "rows.jsonl"
    lines.write_text(
        json.dumps({"asset": first, "score": 0.5}) + "\n\n"
        + json.dumps({"asset": 987654, "score": 0.5}) + "\n"
    )  # fmt: skip
    code, out, err = logged_in("push", project.pk, lines, "-m", "scores-v1", "-q")
    assert code == cli.FAILED
    assert "1 of 2 rows accepted for 'scores-v1', 1 refused (1 task predictions stored)." in err
    assert "987654" in out and "no asset 987654" in out


def test_a_checkpoint_is_uploaded_activated_and_scored_then_exported(
    logged_in, project, tmp_path, celery_worker
):
    logged_in("upload", project.pk, photos(tmp_path), "-q")
    model = tmp_path / "tiny.onnx"
    model.write_bytes(onnx_builders.classifier())
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(onnx_builders.spec()))

    code, _, err = logged_in("checkpoint", "upload", project.pk, model, "--name", "tiny",
                             "--spec", spec, "--activate", "--wait", "-q")  # fmt: skip
    assert code == 0, err
    version = ModelVersion.objects.get(project=project, name="tiny")
    assert f"Uploaded model version {version.pk} (tiny, classification)." in err
    assert "is done: 3 tasks ranked with 'tiny'" in err
    code, out, _ = logged_in("checkpoint", "list", project.pk, "--json")
    assert [(v["name"], v["is_active"]) for v in json.loads(out)] == [("tiny", True)]

    labeled_project(project)
    code, out, err = logged_in("export", project.pk, "--format", "coco", "-o", tmp_path, "-q")
    assert code == 0, err
    path = tmp_path / out.strip().rsplit("/", 1)[-1]
    assert out.strip() == str(path) and path.suffix == ".json"
    assert len(json.loads(path.read_text())["images"]) >= 8


def test_a_cvat_export_without_skeletons_says_what_it_left_out(
    logged_in, project, tmp_path, celery_worker
):
    import zipfile

    labeled_project(project)
    code, out, err = logged_in("export", project.pk, "-f", "cvat_images", "--skeletons", "omit",
                               "-o", tmp_path, "-q")  # fmt: skip
    assert code == 0, err
    assert "2 skeleton(s) left out (skeletons: omit); the boxes are written." in err
    with zipfile.ZipFile(out.strip()) as archive:
        xml = archive.read("annotations.xml").decode()
    assert xml.count("<box ") == 2 and "<skeleton" not in xml


def test_activating_a_version_by_name_needs_its_project(logged_in, project):
    code, _, err = logged_in("checkpoint", "activate", "tiny")
    assert (code, err.strip()) == (cli.USAGE, "error: a version by name needs --project")

    code, _, err = logged_in("checkpoint", "activate", "tiny", "--project", project.pk)
    assert code == cli.FAILED
    assert f"Project {project.pk} has no model version named 'tiny' (it has: none)." in err


def test_a_file_over_the_servers_limit_is_reported_with_exit_code_1(
    logged_in, project, tmp_path, settings
):
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg_bytes(300, 300, seed=1))
    settings.REQUEST_MAX_UPLOAD_BYTES = 2000

    code, out, err = logged_in("upload", project.pk, big, "-q")

    assert code == cli.FAILED
    assert "big.jpg" in out and "error" in out
    assert "0 created, 0 duplicates, 1 refused." in err


def test_waiting_too_long_is_exit_code_5(logged_in, project):
    run = ScoringRun.objects.create(project=project, reason="manual")  # never sent

    code, _, err = logged_in("wait-scoring", project.pk, "--run", run.pk, "--timeout", "0.2", "-q")

    assert code == cli.TIMEOUT
    assert f"error: Scoring run {run.pk} of project {project.pk} is still queued after 0.2 s" in err


def test_bad_input_files_are_usage_errors(logged_in, project, tmp_path):
    missing = logged_in("push", project.pk, tmp_path / "nope.npz", "-m", "v")
    (tmp_path / "rows.csv").write_text("a,b\n")
    unknown = logged_in("push", project.pk, tmp_path / "rows.csv", "-m", "v")
    np.savez(tmp_path / "odd.npz", assets=np.array([1]), logits=np.array([[1.0, 2.0]]))
    odd = logged_in("push", project.pk, tmp_path / "odd.npz", "-m", "v")

    assert [code for code, _, _ in (missing, unknown, odd)] == [cli.USAGE] * 3
    assert "no such file" in missing[2]
    assert "give a .jsonl, .json, .npy or .npz file" in unknown[2]
    assert "arrays not understood (nothing was pushed): logits" in odd[2]


def tool(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The tool as its own process (python -m annotate_client, the console script's code)."""
    environment = {**os.environ, **env, "PYTHONPATH": str(CLIENT_SOURCE)}
    return subprocess.run(
        [sys.executable, "-m", "annotate_client", *argv],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_in_its_own_process_the_tool_reads_the_environment_and_sets_exit_codes(
    live_server, project, eve, tmp_path
):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=eve).key
    config = {"ANNOTATE_CONFIG": str(tmp_path / "none.json")}

    listed = tool("projects", "--json", env={**config, "ANNOTATE_URL": live_server.url,
                                             "ANNOTATE_TOKEN": token})  # fmt: skip
    refused = tool("projects", env={**config, "ANNOTATE_URL": live_server.url,
                                    "ANNOTATE_TOKEN": "wrong"})  # fmt: skip
    unreachable = tool("projects", env={**config, "ANNOTATE_URL": "http://127.0.0.1:9",
                                        "ANNOTATE_TOKEN": token})  # fmt: skip
    no_address = tool("projects", env=config)
    wrong_usage = tool("export", env=config)

    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["id"] == project.pk
    assert refused.returncode == 3
    assert refused.stderr.startswith(
        "error: Listing projects: the server did not accept your credentials (401). Invalid token."
    )
    assert unreachable.returncode == 4
    assert "cannot reach the server at http://127.0.0.1:9 ([Errno 111] Connection refused)" in (
        unreachable.stderr
    )
    assert no_address.returncode == 2 and "no server address: give --url" in no_address.stderr
    assert wrong_usage.returncode == 2 and "the following arguments are required" in (
        wrong_usage.stderr
    )
