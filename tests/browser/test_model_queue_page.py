"""The Model & queue page for an ML engineer: the versions with their kind and metrics, a
scoring run's progress moving while the page polls, the ranked queue a page at a time, an
upload refused with the reason next to the file field, and a refused rollback in words."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activelearn.models import ModelVersion, ScoringRun, TaskScore
from annotate.models import AnnotationTask, Budget
from tests.annotate.api_helpers import make_task
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def loop(project):
    baseline = ModelVersion.objects.create(
        project=project,
        name="baseline-1-40",
        kind="baseline",
        task_type="classification",
        is_active=True,
        activated_at=timezone.now(),
        labels_at_training=40,
        metrics={"metric": "accuracy", "accuracy": 0.8125, "validation_examples": 16},
    )
    ModelVersion.objects.create(
        project=project, name="resnet18-v2", kind="onnx", task_type="detection"
    )
    ModelVersion.objects.create(
        project=project, name="<b>outside-model</b>", kind="pushed", task_type="keypoints"
    )
    for i in range(30):
        task = make_task(project, priority=100 - i)
        TaskScore.objects.create(
            task=task,
            model_version=baseline,
            score=(100 - i) / 100,
            breakdown={"margin": round(0.9 - i / 100, 3), "diversity": 0.05},
        )
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("10.00"), cost_per_image=Decimal("1.00")
    )
    for _ in range(2):  # 2.00 of the 10.00 spent
        done = make_task(project, state="submitted")
        AnnotationTask.objects.filter(pk=done.pk).update(submitted_at=timezone.now())
    running = ScoringRun.objects.create(
        project=project,
        model_version=baseline,
        reason="activation",
        state="running",
        chunks_total=4,
        chunks_done=1,
        tasks_scored=8,
    )
    ScoringRun.objects.create(
        project=project,
        reason="manual",
        state="failed",
        chunks_total=2,
        chunks_done=1,
        error="The model could not be loaded: the file is missing.",
        finished_at=timezone.now(),
    )
    return running


def test_an_ml_engineer_sees_versions_progress_and_the_queue(
    live_server, login, project, eve, loop, shot
):
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")

    versions = page.locator("#versions-table tbody tr")
    expect(versions).to_have_count(3)
    active = page.locator("#versions-table tr", has_text="baseline-1-40")
    expect(active).to_contain_text("Built-in baseline")
    expect(active).to_contain_text("Active")
    expect(active).to_contain_text("accuracy 0.813 (16 validation examples)")
    expect(page.locator("#versions-table tr", has_text="resnet18-v2")).to_contain_text(
        "ONNX checkpoint"
    )
    pushed = page.locator("#versions-table tr", has_text="<b>outside-model</b>")
    expect(pushed).to_contain_text("Pushed predictions")  # the name stays text, not markup
    expect(pushed.get_by_role("button", name="Activate")).to_be_visible()

    run = page.locator(f"#runs-table tr[data-run='{loop.pk}']")
    expect(run).to_contain_text("1 of 4 chunks")
    expect(run).to_contain_text("Running")
    expect(page.locator("#runs-table tr[data-state=failed]")).to_contain_text(
        "The model could not be loaded: the file is missing."
    )

    expect(page.locator("#queue-table tbody tr")).to_have_count(25)
    first = page.locator("#queue-table tbody tr").first
    expect(first).to_contain_text("1.0000")
    expect(first.locator(".breakdown li").first).to_have_text("margin 0.900")
    expect(page.locator("#queue-page")).to_have_text("Page 1 of 2 (30 tasks)")
    expect(page.locator("#queue-meta")).to_contain_text("ordered by baseline-1-40")
    expect(page.locator("#learning-curve svg circle")).to_have_count(1)
    burndown = page.locator("#burndown")
    expect(burndown.locator("svg .spent-line")).to_have_count(1)
    expect(burndown.locator("svg .budget-line")).to_have_count(1)
    expect(burndown.locator(".burndown-summary")).to_have_text(
        "Spent 2.00 USD of 10.00 USD (20%), 8.00 USD left."
    )
    shot(page, "model-queue")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "model-queue-page-full.png"), full_page=True)

    # The worker moves on: the page, polling, shows it without a reload.
    ScoringRun.objects.filter(pk=loop.pk).update(chunks_done=3, tasks_scored=24)
    expect(run).to_contain_text("3 of 4 chunks", timeout=8_000)
    ScoringRun.objects.filter(pk=loop.pk).update(
        chunks_done=4, tasks_scored=30, state="done", finished_at=timezone.now()
    )
    expect(run).to_contain_text("Done", timeout=8_000)
    expect(run).to_contain_text("30")

    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#queue-table tbody tr")).to_have_count(5)
    expect(page.locator("#queue-table tbody tr").first.locator("td").first).to_have_text("26")
    assert not [m for m in page.console_messages if m.startswith("pageerror")]


def test_an_upload_refused_by_the_api_says_why_next_to_the_file(
    live_server, login, project, eve, loop, tmp_path, shot
):
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"this is not a protobuf at all")
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    page.locator("#upload-card summary").click()
    page.locator("#upload-name").fill("broken-1")
    page.locator("#upload-file").set_input_files(str(broken))
    page.get_by_role("button", name="Upload", exact=True).click()

    error = page.locator("#upload-file").locator("xpath=..").locator(".field-error")
    expect(error).to_have_text("Not an ONNX model: the file does not parse.")
    assert not ModelVersion.objects.filter(name="broken-1").exists()

    page.locator("#upload-spec").fill(
        '{"input": {"size": [224, 224]}, "output": {"layout": "boxes"}}'
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    spec_error = page.locator("#upload-spec").locator("xpath=..").locator(".field-error")
    expect(spec_error).to_contain_text("output.layout: One of: probs, logits")
    page.locator("#upload-card").scroll_into_view_if_needed()
    shot(page, "upload-refused")


def test_a_rollback_from_the_only_model_ever_active_says_the_queue_is_back_to_cold_start(
    live_server, login, project, pat, loop
):
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    expect(page.locator("#versions-table tbody tr")).to_have_count(3)
    page.get_by_role("button", name="Roll back to the previous version").click()
    expect(page.locator("#versions-status")).to_contain_text("no model is active now")
    expect(page.locator("#versions-status")).to_contain_text("reorders the queue")
    assert not ModelVersion.objects.filter(project=project, is_active=True).exists()


def test_a_rollback_with_no_model_now_or_before_says_so(live_server, login, project, pat):
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    page.get_by_role("button", name="Roll back to the previous version").click()
    expect(page.locator("#versions-status")).to_have_text(
        "No model is active, and none was before."
    )


def test_a_manager_activates_a_version_and_starts_a_run_from_the_page(
    live_server, login, project, pat, loop
):
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    row = page.locator("#versions-table tr", has_text="resnet18-v2")
    row.get_by_role("button", name="Activate").click()
    expect(page.locator("#versions-status")).to_contain_text("resnet18-v2 is active")
    expect(row).to_contain_text("Active")
    assert ModelVersion.objects.get(is_active=True).name == "resnet18-v2"
    expect(page.locator("#runs-table tbody tr")).to_have_count(3)

    page.get_by_role("button", name="Score the queue now").click()
    expect(page.locator("#runs-status")).to_contain_text("Scoring run #")
    expect(page.locator("#runs-table tbody tr")).to_have_count(4)
    newest = page.locator("#runs-table tbody tr").first
    expect(newest).to_contain_text("Manual")
    expect(newest).to_contain_text("resnet18-v2")
