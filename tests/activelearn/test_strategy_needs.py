"""Settings that cannot fail later: every registry strategy against every kind of model
version (generated from the registry). A strategy is accepted exactly when the model gives
what the strategy declares it needs, and an accepted one really scores that model's
predictions; refusals name the need and the model, in the admin, the API and activation."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client
from rest_framework.test import APIClient

from activelearn.inference.spec import ScoringError
from activelearn.learning_settings import strategy_errors
from activelearn.models import LearningSettings, ModelVersion
from activelearn.scoring.adapters import ScoringContext, tasks_score
from activelearn.strategies import NEED_WORDS, STRATEGIES
from activelearn.versions.services import CheckpointError, checkpoint_activate
from tests.conftest import PASSWORD

KEYPOINTS = ["nose", "left_eye"]
BOX = {"x": 1, "y": 2, "w": 5, "h": 6, "score": 0.6, "label": "person"}


def video_boxes(p: float, **unit) -> dict:
    """Three frames of a video: a box, and a second one whose overlap with it (a collision
    between tracks) and whose class probabilities follow `p`."""
    boxes = [{**BOX, "class_probs": [p, 1 - p]}, {**BOX, "x": 1 + 6 * p, "class_probs": [p, 1 - p]}]
    return {"frames": [{"index": f, "boxes": boxes, **unit} for f in range(3)]}


# What each kind of version gives, written out here rather than read from the code under
# test, with prediction data of that kind (four tasks) for scoring.
MODEL_KINDS: dict[str, tuple[dict, set[str], list[dict]]] = {
    "onnx probs": (
        {"kind": "onnx", "task_type": "classification", "spec": {"output": {"layout": "probs"}}},
        {"class_probs"},
        [{"probs": [p, 1 - p]} for p in (0.9, 0.6, 0.5, 0.2)],
    ),
    "onnx logits with embeddings": (
        {
            "kind": "onnx",
            "task_type": "classification",
            "spec": {"output": {"layout": "logits"}, "embedding_output": "features"},
        },
        {"class_probs", "embeddings"},
        [{"probs": [p, 1 - p], "embedding": [p, 1.0, -p]} for p in (0.9, 0.6, 0.5, 0.2)],
    ),
    "onnx embedding": (
        {"kind": "onnx", "task_type": "embedding", "spec": {"output": {"layout": "embedding"}}},
        {"embeddings"},
        [{"embedding": [v, 1.0 - v]} for v in (0.0, 0.3, 0.6, 1.0)],
    ),
    "onnx detection": (
        {"kind": "onnx", "task_type": "detection", "spec": {"output": {"layout": "detection"}}},
        {"boxes", "tracks"},
        [video_boxes(p) for p in (0.9, 0.6, 0.5, 0.2)],
    ),
    "onnx yolo_detect": (
        {"kind": "onnx", "task_type": "detection", "spec": {"output": {"layout": "yolo_detect"}}},
        {"boxes", "tracks"},
        [video_boxes(p) for p in (0.9, 0.6, 0.5, 0.2)],
    ),
    "onnx yolo_pose": (
        {"kind": "onnx", "task_type": "keypoints", "spec": {"output": {"layout": "yolo_pose"}}},
        {"boxes", "keypoints", "tracks"},
        [
            video_boxes(
                p,
                keypoints=[
                    {"label": "person", "score": p, "confidences": {"nose": p, "left_eye": 0.5}}
                ],
            )
            for p in (0.9, 0.6, 0.5, 0.2)
        ],
    ),
    "built-in baseline": (
        {
            "kind": "baseline",
            "task_type": "classification",
            "spec": {"output": {"name": "probabilities", "layout": "probs"}},
        },
        {"class_probs"},
        [{"probs": [p, 1 - p]} for p in (0.9, 0.6, 0.5, 0.2)],
    ),
    "pushed classification": (
        {"kind": "pushed", "task_type": "classification", "spec": {}},
        {"class_probs"},
        [{"probs": [p, 1 - p]} for p in (0.9, 0.6, 0.5, 0.2)],
    ),
    "pushed detection": (
        {"kind": "pushed", "task_type": "detection", "spec": {}},
        {"boxes", "tracks"},
        [video_boxes(p) for p in (0.9, 0.6, 0.5, 0.2)],
    ),
    "pushed keypoints": (
        {"kind": "pushed", "task_type": "keypoints", "spec": {}},
        {"keypoints"},
        [
            {"keypoints": [{"label": "person", "score": p, "confidences": {"nose": p}}]}
            for p in (0.9, 0.6, 0.5, 0.2)
        ],
    ),
    "pushed embedding": (
        {"kind": "pushed", "task_type": "embedding", "spec": {}},
        {"embeddings"},
        [{"embedding": [v, 1.0 - v]} for v in (0.0, 0.3, 0.6, 1.0)],
    ),
}
CASES = [(strategy, kind) for strategy in STRATEGIES for kind in MODEL_KINDS]


def version_of(project, kind: str, *, name: str = "the-model") -> ModelVersion:
    fields, _gives, _datas = MODEL_KINDS[kind]
    return ModelVersion(project=project, name=name, **fields)


def context(settings: LearningSettings, datas: list[dict]) -> ScoringContext:
    return ScoringContext(
        settings=settings,
        keypoint_names=KEYPOINTS,
        features={asset: [asset / 10, 1.0, 0.5] for asset in range(len(datas))},
        labeled_embeddings=np.zeros((0, 1)),
        seed=(7,),
        uses_model_embeddings=all("embedding" in data for data in datas),
        asset_of={task: task for task in range(len(datas))},
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("strategy", "kind"), CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_a_strategy_is_accepted_exactly_when_the_model_gives_what_it_needs(project, strategy, kind):
    _fields, gives, datas = MODEL_KINDS[kind]
    settings = LearningSettings(project=project, strategy=strategy)
    errors = strategy_errors(settings=settings, version=version_of(project, kind))
    needs = STRATEGIES[strategy].needs
    if needs <= gives:
        assert errors == {}
        # Accepted means it works: the strategy tells this model's predictions apart (they
        # differ in confidence), rather than failing or giving every task the same score.
        scores, _ = tasks_score(datas, list(range(len(datas))), context(settings, datas))
        assert scores.shape == (len(datas),) and np.all(np.isfinite(scores))
        assert len(set(np.round(scores, 9).tolist())) > 1
    else:
        (message,) = errors["strategy"]
        assert message.startswith(f"Strategy {strategy} needs ")
        assert any(NEED_WORDS[need] in message for need in needs - gives)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_blend_is_refused_when_one_of_its_parts_cannot_be_fed(project, kind):
    _fields, gives, _datas = MODEL_KINDS[kind]
    settings = LearningSettings(
        project=project, strategy="blend", blend={"random": 1, "entropy": 2}
    )
    errors = strategy_errors(settings=settings, version=version_of(project, kind))
    if "class_probs" in gives:
        assert errors == {}
    else:
        assert errors["blend"] == [
            f"entropy: strategy entropy needs class probabilities; the active model "
            f"'the-model' gives {' and '.join(NEED_WORDS[g] for g in sorted(gives - {'tracks'}))}"
        ]


@pytest.mark.django_db
@pytest.mark.parametrize("strategy", ["vote_entropy", "mean_kl_to_consensus"])
def test_committee_strategies_that_failed_every_run_are_refused_even_before_a_model(
    project, strategy
):
    settings = LearningSettings(project=project, strategy=strategy)
    (message,) = strategy_errors(settings=settings, version=None)["strategy"]
    assert "needs a committee" in message and "no model version here gives that" in message
    # ... and they really cannot score what a model here gives.
    datas = MODEL_KINDS["onnx probs"][2]
    with pytest.raises(ScoringError):
        tasks_score(datas, list(range(len(datas))), context(settings, datas))


@pytest.mark.django_db
def test_expected_gradient_length_that_failed_every_run_is_refused_with_the_reason(project):
    settings = LearningSettings(project=project, strategy="expected_gradient_length")
    (message,) = strategy_errors(settings=settings, version=None)["strategy"]
    assert "the inputs of the model's last linear layer" in message
    datas = MODEL_KINDS["onnx logits with embeddings"][2]
    with pytest.raises(ScoringError):
        tasks_score(datas, list(range(len(datas))), context(settings, datas))


@pytest.mark.django_db
@pytest.mark.parametrize("strategy", ["default", "random", "k_center", "novelty"])
def test_strategies_that_need_nothing_are_accepted_for_every_model(project, strategy):
    for kind in MODEL_KINDS:
        settings = LearningSettings(project=project, strategy=strategy)
        assert strategy_errors(settings=settings, version=version_of(project, kind)) == {}


# --- where the check runs: the admin, the API and activation -----------------------------


def detector(project, *, active: bool) -> ModelVersion:
    version = version_of(project, "onnx detection", name="yolo-people")
    version.is_active = active
    version.save()
    return version


def admin_client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def admin_form(project, **changes) -> dict:
    return {
        "project": project.pk,
        "strategy": "default",
        "blend": "{}",
        "detection_aggregate": "max",
        "keypoint_weights": "{}",
        "annotators_per_task": 1,
        "lease_minutes": 30,
        "rescore_every_labels": 50,
        "scoring_chunk_size": 256,
        "retrain_every_accepted": 50,
        "retrain_counts": "accepted",
        "auto_accept_thresholds": "{}",
        "audit_share": 0.1,
        "stop_gain_per_1000": 0.005,
        "mastery_error_threshold": 0.15,
        "mastery_versions": 2,
        **changes,
    }


@pytest.mark.django_db
def test_the_admin_refused_entropy_for_an_active_detection_model(project, pat):
    # Regression: the admin accepted it, then every scoring run failed.
    detector(project, active=True)
    page = admin_client(pat).post(
        "/admin/activelearn/learningsettings/add/", admin_form(project, strategy="entropy")
    )
    assert page.status_code == 200
    assert (
        "Strategy entropy needs class probabilities; the active model &#x27;yolo-people&#x27; "
        "gives boxes."
    ) in page.content.decode()
    assert not LearningSettings.objects.exists()


@pytest.mark.django_db
def test_the_admin_saves_a_strategy_the_model_can_feed(project, pat):
    detector(project, active=True)
    page = admin_client(pat).post(
        "/admin/activelearn/learningsettings/add/", admin_form(project, strategy="detection")
    )
    assert page.status_code == 302
    assert LearningSettings.objects.get(project=project).strategy == "detection"


@pytest.mark.django_db
def test_the_admin_offers_the_strategies_with_their_descriptions(project, pat):
    page = admin_client(pat).get("/admin/activelearn/learningsettings/add/").content.decode()
    for name, strategy in STRATEGIES.items():
        assert f'<option value="{name}">' in page
        assert strategy.summary.replace("'", "&#x27;") in page


@pytest.mark.django_db
def test_the_api_answers_400_with_the_same_message_as_the_admin(project, eve):
    detector(project, active=True)
    client = APIClient()
    client.force_authenticate(eve)
    response = client.patch(
        f"/api/projects/{project.pk}/learning-settings/", {"strategy": "entropy"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "strategy": [
            "Strategy entropy needs class probabilities; the active model 'yolo-people' "
            "gives boxes."
        ]
    }


@pytest.mark.django_db
def test_activating_a_model_that_cannot_feed_the_strategy_is_refused(project, eve):
    LearningSettings.objects.create(project=project, strategy="entropy")
    version = detector(project, active=False)
    with pytest.raises(CheckpointError) as caught:
        checkpoint_activate(version=version)
    assert caught.value.errors["strategy"][0].startswith(
        "Strategy entropy needs class probabilities; the model 'yolo-people' gives boxes."
    )
    client = APIClient()
    client.force_authenticate(eve)
    response = client.post(f"/api/checkpoints/{version.pk}/activate/")
    assert response.status_code == 400
    assert "needs class probabilities" in response.json()["strategy"][0]
    version.refresh_from_db()
    assert not version.is_active
