"""Track risk on the real database: a pushed detector's boxes on video segments are joined
into tracks and scored; the segment where two people cross rises above calm ones in the
queue, blended with another strategy too, and its breakdown and the queue API say which
tracks and frames; propagated shapes of a task's latest annotation count; an ONNX model
is run on every frame of a segment for it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from activelearn.inference.runtime import ModelOutputs
from activelearn.models import LearningSettings, ModelVersion, Prediction, ScoringRun, TaskScore
from activelearn.scoring import runs
from activelearn.scoring.runs import (
    score_chunk,
    scoring_run_finish,
    scoring_run_split,
    scoring_run_start,
)
from annotate.models import Annotation, AnnotationTask, Box, Frame, LabelClass, Track
from annotate.queue.selectors import with_priority
from tests.activelearn.scoring_helpers import version_register
from tests.browser.media import video_task

pytestmark = pytest.mark.django_db


def box(x: float, y: float = 120.0, score: float = 0.9) -> dict:
    return {"x": x, "y": y, "w": 40.0, "h": 90.0, "score": score, "label": "person",
            "class_probs": [score, 1 - score]}  # fmt: skip


def crossing(frames: int = 10) -> dict:
    """Two people walking towards each other; they meet at frame 5."""
    return {
        "frames": [
            {"index": f, "boxes": [box(200 + 12 * f), box(320 - 12 * f)]} for f in range(frames)
        ]
    }


def calm(frames: int = 10) -> dict:
    return {
        "frames": [
            {"index": f, "boxes": [box(100 + 2 * f, 40), box(450, 220)]} for f in range(frames)
        ]
    }


def _run_all(project) -> None:
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    scoring_run_finish(run_id=run.pk)


@pytest.fixture
def detector(project) -> ModelVersion:
    return version_register(
        project,
        None,
        name="people-detector",
        kind=ModelVersion.Kind.PUSHED,
        task_type=ModelVersion.TaskType.DETECTION,
    )


@pytest.fixture
def segments(project, detector):
    tasks = {}
    for name, data in (("calm", calm()), ("crossing", crossing()), ("quiet", calm())):
        tasks[name] = video_task(project, frames=10, write_file=False)
        Prediction.objects.create(task=tasks[name], model_version=detector, data=data)
    return tasks


def test_the_segment_where_two_people_cross_rises_in_the_queue_and_says_why(project, segments, eve):
    LearningSettings.objects.create(
        project=project, strategy="track_risk", scoring_chunk_size=2, audit_share=0
    )
    _run_all(project)
    queue = list(
        with_priority(AnnotationTask.objects.all())
        .order_by("-priority", "id")
        .values_list("pk", flat=True)
    )
    assert queue[0] == segments["crossing"].pk
    breakdown = TaskScore.objects.get(task=segments["crossing"]).breakdown
    reason = breakdown["reasons"][0]
    assert (reason["strategy"], reason["kind"], reason["tracks"]) == (
        "track_risk",
        "collision",
        [1, 2],
    )
    first, last = reason["frames"]
    assert (
        first <= 5 <= last
        and reason["text"] == f"collision of #1 and #2 at frames {first}\u2013{last}"
    )
    assert TaskScore.objects.get(task=segments["calm"]).breakdown == {"track_risk": 0.0}

    client = APIClient()
    client.force_authenticate(eve)
    top = client.get(f"/api/projects/{project.pk}/queue/").json()["results"][0]
    assert top["id"] == segments["crossing"].pk
    assert set(top["breakdown"]) == {"track_risk"}  # the parts, numbers only
    assert top["reasons"][0]["text"] == reason["text"]


def test_track_risk_blended_with_detection_still_puts_the_crossing_first(project, segments):
    LearningSettings.objects.create(
        project=project, strategy="blend", blend={"track_risk": 2, "detection": 1}, audit_share=0
    )
    _run_all(project)
    top = with_priority(AnnotationTask.objects.all()).order_by("-priority", "id").first()
    assert top.pk == segments["crossing"].pk
    breakdown = TaskScore.objects.get(task=top).breakdown
    assert set(breakdown) == {"track_risk", "detection", "reasons"}


def test_propagated_shapes_that_the_flow_was_unsure_of_raise_their_segment(
    project, segments, alice
):
    LearningSettings.objects.create(project=project, strategy="track_risk", audit_share=0)
    quiet = segments["quiet"]
    annotation = Annotation.objects.create(task=quiet, author=alice, version=1)
    person = LabelClass.objects.get(project=project, name="person")
    track = Track.objects.create(asset=quiet.asset, number=4, label_class=person)
    for frame in Frame.objects.filter(asset=quiet.asset):
        confidence = 0.1 if frame.index == 6 else 0.95
        Box.objects.create(
            annotation=annotation, frame=frame, label_class=person, track=track,
            x=450, y=220, w=40, h=90, source="propagation", confidence=confidence,
        )  # fmt: skip
    _run_all(project)
    scores = dict(TaskScore.objects.values_list("task_id", "score"))
    assert scores[quiet.pk] > scores[segments["calm"].pk]
    reasons = TaskScore.objects.get(task=quiet).breakdown["reasons"]
    assert reasons[0]["text"] == "optical flow unsure of #4 at frame 6"


def test_an_onnx_model_sees_every_frame_of_a_segment_for_track_risk(project, monkeypatch):
    task = video_task(project, frames=8, write_file=False)
    version = ModelVersion(project=project, name="onnx", kind="onnx", task_type="detection")
    seen = []

    def infer(version, refs):
        seen.append(len(refs))
        return ModelOutputs(units=[{"boxes": []} for _ in refs]), list(range(len(refs)))

    monkeypatch.setattr(runs, "images_infer", infer)
    runs._infer(version, [task])
    runs._infer(version, [task], every_frame=True)
    assert seen == [3, 8]
