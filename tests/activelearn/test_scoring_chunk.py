"""The chunk service on the real database, run in-process: predictions, scores and queue
priorities are written as upserts, once per chunk, whatever the model kind."""

from __future__ import annotations

import pytest

from activelearn.models import LearningSettings, ModelVersion, Prediction, ScoringRun, TaskScore
from activelearn.scoring.runs import (
    score_chunk,
    scoring_run_finish,
    scoring_run_split,
    scoring_run_start,
)
from activelearn.strategies import DEFAULT_STRATEGY
from annotate.models import AnnotationTask, QueueEntry
from annotate.queue.selectors import with_priority
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    embedding_onnx,
    image_spec,
    image_task_create,
    version_register,
)

pytestmark = pytest.mark.django_db

# Saturated colours are easy for the colour classifier; greys are three-way ties.
COLOURS = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (128, 128, 128), (200, 120, 60)]


def _run_all(run: ScoringRun) -> ScoringRun:
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    scoring_run_finish(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.fixture
def classifier(project) -> ModelVersion:
    return version_register(project, colour_classifier_onnx(), spec=image_spec(32))


def test_a_run_scores_every_pending_task_and_orders_the_queue_by_uncertainty(project, classifier):
    # The ranking alone: no random audit share parked out of the priority order.
    LearningSettings.objects.create(
        project=project, strategy="margin", scoring_chunk_size=2, audit_share=0.0
    )
    tasks = [image_task_create(project, colour) for colour in COLOURS]
    run = _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL))

    assert (run.state, run.chunks_done, run.chunks_total, run.tasks_scored) == ("done", 3, 3, 5)
    assert TaskScore.objects.filter(model_version=classifier).count() == 5
    red = Prediction.objects.get(task=tasks[0], model_version=classifier).data["probs"]
    assert red[0] > 0.9
    queue = list(
        with_priority(AnnotationTask.objects.all())
        .order_by("-priority")
        .values_list("pk", flat=True)
    )
    assert queue[0] == tasks[3].pk  # the grey picture is the model's closest call
    grey_score = TaskScore.objects.get(task=tasks[3], model_version=classifier)
    assert grey_score.breakdown["margin"] == pytest.approx(1.0, abs=1e-3)
    assert QueueEntry.objects.get(task_id=tasks[3].pk).priority == pytest.approx(grey_score.score)


def test_running_a_chunk_twice_writes_the_same_rows_and_counts_it_once(project, classifier):
    LearningSettings.objects.create(project=project, strategy="entropy", scoring_chunk_size=10)
    tasks = [image_task_create(project, colour) for colour in COLOURS]
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    (chunk,) = scoring_run_split(run_id=run.pk)

    score_chunk(run_id=run.pk, task_ids=chunk)
    first = list(TaskScore.objects.order_by("task_id").values_list("task_id", "score", "breakdown"))
    first_predictions = list(Prediction.objects.order_by("task_id").values_list("task_id", "data"))
    score_chunk(run_id=run.pk, task_ids=chunk)

    again = list(TaskScore.objects.order_by("task_id").values_list("task_id", "score", "breakdown"))
    assert again == first
    assert list(Prediction.objects.order_by("task_id").values_list("task_id", "data")) == (
        first_predictions
    )
    assert TaskScore.objects.count() == len(tasks)
    run.refresh_from_db()
    assert (run.chunks_done, run.tasks_scored) == (1, len(tasks))


def test_pushed_predictions_are_scored_without_a_checkpoint(project):
    LearningSettings.objects.create(project=project, strategy="least_confidence")
    version = version_register(project, None, name="pushed-1", kind=ModelVersion.Kind.PUSHED)
    sure, unsure, ready, missing = (image_task_create(project, c) for c in COLOURS[:4])
    Prediction.objects.create(task=sure, model_version=version, data={"probs": [0.9, 0.1]})
    Prediction.objects.create(task=unsure, model_version=version, data={"probs": [0.5, 0.5]})
    Prediction.objects.create(task=ready, model_version=version, data={"score": 0.7})

    run = _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.PUSH))

    scores = dict(TaskScore.objects.values_list("task_id", "score"))
    assert scores == {
        sure.pk: pytest.approx(0.1),
        unsure.pk: pytest.approx(0.5),
        ready.pk: pytest.approx(0.7),
    }
    assert missing.pk not in scores
    assert run.state == "done"


def test_pushed_boxes_are_scored_with_the_detection_strategy_by_default(project):
    LearningSettings.objects.create(project=project, strategy="default")  # picks by outputs
    version = version_register(
        project,
        None,
        name="detector",
        kind=ModelVersion.Kind.PUSHED,
        task_type=ModelVersion.TaskType.DETECTION,
    )
    clear, doubtful = (image_task_create(project, c) for c in COLOURS[:2])
    box = {"x": 1, "y": 1, "w": 5, "h": 5}
    Prediction.objects.create(
        task=clear,
        model_version=version,
        data={"boxes": [{**box, "class_probs": [0.99, 0.01], "score": 0.99}]},
    )
    Prediction.objects.create(
        task=doubtful,
        model_version=version,
        data={"boxes": [{**box, "class_probs": [0.5, 0.5], "score": 0.5}]},
    )
    _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.PUSH))
    scores = dict(TaskScore.objects.values_list("task_id", "score"))
    assert scores[doubtful.pk] > scores[clear.pk]


def test_the_default_strategy_is_rescored_over_the_whole_pool_at_the_end(project, classifier):
    assert LearningSettings(project=project).strategy == DEFAULT_STRATEGY == "auto"
    LearningSettings.objects.create(project=project, scoring_chunk_size=2, rescore_every_labels=2)
    tasks = [image_task_create(project, colour, features=True) for colour in COLOURS]
    run = _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL))
    assert run.state == "done"
    rows = TaskScore.objects.filter(model_version=classifier)
    assert rows.count() == len(tasks)
    # Chunks of 2 saw part of the pool; the pool pass mixed the arms over all 5 tasks.
    picks = [breakdown["auto_pick"] for breakdown in rows.values_list("breakdown", flat=True)]
    assert [pick["pool"] for pick in picks] == [5] * 5
    assert sum(pick["q"] for pick in picks) == pytest.approx(1.0)
    assert sorted(rows.values_list("score", flat=True)) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_default_picks_diverse_margin_for_class_probabilities_over_the_whole_pool(
    project, classifier
):
    LearningSettings.objects.create(
        project=project, strategy="default", scoring_chunk_size=2, rescore_every_labels=2
    )
    tasks = [image_task_create(project, colour, features=True) for colour in COLOURS]
    run = _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL))
    assert run.state == "done"
    rows = TaskScore.objects.filter(model_version=classifier)
    assert rows.count() == len(tasks)
    # diverse_margin lifts one batch (rescore_every_labels = 2) over the pool by 1.
    assert sorted(score > 1 for score in rows.values_list("score", flat=True)) == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_an_embedding_model_orders_by_coverage_and_stores_embeddings(project):
    LearningSettings.objects.create(project=project, strategy="default")  # picks by outputs
    version = version_register(
        project,
        embedding_onnx(),
        name="embedder",
        task_type=ModelVersion.TaskType.EMBEDDING,
        spec=image_spec(32, output="embedding", layout="embedding"),
    )
    tasks = [image_task_create(project, colour) for colour in COLOURS]
    run = _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.ACTIVATION))
    assert run.state == "done"
    assert len(Prediction.objects.get(task=tasks[0], model_version=version).data["embedding"]) == 4
    assert set(TaskScore.objects.values_list("breakdown", flat=True)[0]) == {"k_center"}


def test_a_broken_model_spec_fails_the_run_with_the_reason(project):
    LearningSettings.objects.create(project=project, strategy="margin")
    version_register(project, colour_classifier_onnx(), spec={"input": {"size": "big"}})
    image_task_create(project, COLOURS[0])
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    from activelearn.tasks import score_chunk as chunk_task

    (chunk,) = scoring_run_split(run_id=run.pk)
    chunk_task.run(run.pk, chunk)
    run.refresh_from_db()
    assert run.state == "failed"
    assert "input size" in run.error


def test_a_newer_run_supersedes_an_unfinished_one(project, classifier):
    image_task_create(project, COLOURS[0])
    old = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    scoring_run_split(run_id=old.pk)
    new = scoring_run_start(project=project, reason=ScoringRun.Reason.LABELS)
    old.refresh_from_db()
    assert old.state == "superseded" and old.error == ""
    assert new.state == "queued"


def _video_task(project, colours: list[tuple[int, int, int]], salt: str) -> AnnotationTask:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from annotate.models import Asset, Frame
    from tests.activelearn.scoring_helpers import picture_bytes

    asset = Asset.objects.create(
        project=project,
        kind=Asset.Kind.VIDEO,
        file=f"projects/{project.pk}/assets/{salt}.mp4",
        sha256=salt * 8,
        content_type="video/mp4",
        state=Asset.State.READY,
    )
    for index, colour in enumerate(colours):
        name = default_storage.save(
            f"projects/{project.pk}/frames/{salt}-{index}.png", ContentFile(picture_bytes(colour))
        )
        Frame.objects.create(
            asset=asset, index=index, timestamp=index / 25, image=name, width=64, height=48
        )
    return AnnotationTask.objects.create(
        project=project,
        asset=asset,
        kind=AnnotationTask.Kind.VIDEO,
        frame_start=0,
        frame_end=len(colours) - 1,
        frame_count=len(colours),
    )


def test_a_video_segment_is_scored_from_its_frames_by_the_project_aggregate(project, classifier):
    LearningSettings.objects.create(project=project, strategy="margin", detection_aggregate="max")
    red = (240, 10, 10)
    steady = _video_task(project, [red] * 9, salt="steady00")
    doubtful = _video_task(project, [red] * 4 + [(128, 128, 128)] + [red] * 4, salt="doubt000")

    _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL))

    frames = Prediction.objects.get(task=doubtful, model_version=classifier).data["frames"]
    assert [frame["index"] for frame in frames] == [0, 4, 8]  # first, middle, last
    scores = dict(TaskScore.objects.values_list("task_id", "score"))
    assert scores[doubtful.pk] == pytest.approx(1.0, abs=1e-3)  # its grey middle frame
    assert scores[steady.pk] < 0.1


def test_pushed_keypoints_rank_doubtful_weighted_points_first(project):
    names = project.keypoint_names
    LearningSettings.objects.create(
        project=project, strategy="default", keypoint_weights={names[0]: 5.0}
    )
    version = version_register(
        project,
        None,
        name="pose",
        kind=ModelVersion.Kind.PUSHED,
        task_type=ModelVersion.TaskType.KEYPOINTS,
    )
    sure, doubtful_head, doubtful_rest = (image_task_create(project, c) for c in COLOURS[:3])

    def pose(low: set[str]) -> dict:
        confidences = {name: 0.2 if name in low else 0.95 for name in names}
        return {"boxes": [], "keypoints": [{"label": "person", "confidences": confidences}]}

    Prediction.objects.create(task=sure, model_version=version, data=pose(set()))
    Prediction.objects.create(task=doubtful_head, model_version=version, data=pose({names[0]}))
    Prediction.objects.create(task=doubtful_rest, model_version=version, data=pose({names[-1]}))

    _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.PUSH))

    scores = dict(TaskScore.objects.values_list("task_id", "score"))
    assert scores[doubtful_head.pk] > scores[doubtful_rest.pk] > scores[sure.pk]
