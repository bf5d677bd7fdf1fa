"""The registry drives scoring: every strategy declares the input adapter that builds its
arguments, scoring has exactly those adapters, and a strategy without one is the strategy
settings validation refuses for every model. One spec reader and one layout table serve the
upload and scoring alike."""

from __future__ import annotations

import numpy as np
import pytest

from activelearn.inference.nms import class_nms
from activelearn.inference.spec import OUTPUT_LAYOUTS, TASK_TYPES, ModelSpec, SpecInvalid
from activelearn.learning_settings import OBTAINABLE
from activelearn.models import LearningSettings, ModelVersion
from activelearn.scoring.adapters import ADAPTERS, needs_pool, settings_mix, uses_embeddings
from activelearn.strategies import DEFAULT_PICKS, DEFAULT_WITHOUT_OUTPUTS, STRATEGIES
from activelearn.versions.services import CheckpointError, spec_normalise


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_strategy_has_an_adapter_exactly_when_some_model_can_feed_it(name):
    strategy = STRATEGIES[name]
    assert (strategy.adapter is not None) == (strategy.needs <= OBTAINABLE)
    assert strategy.adapter is None or strategy.adapter in ADAPTERS


def test_every_adapter_scoring_has_is_declared_by_a_strategy():
    assert set(ADAPTERS) == {s.adapter for s in STRATEGIES.values() if s.adapter}


def test_stand_ins_and_default_picks_are_registered_strategies():
    named = [s.until_labeled for s in STRATEGIES.values() if s.until_labeled]
    named += [pick for _, pick in DEFAULT_PICKS] + [DEFAULT_WITHOUT_OUTPUTS]
    assert set(named) <= set(STRATEGIES)


def test_default_scores_pose_predictions_by_their_keypoints_not_their_boxes():
    settings = LearningSettings(strategy="default")
    pose = [{"boxes": [], "keypoints": []}]
    assert settings_mix(settings, pose).weights == {"keypoints": 1.0}
    assert settings_mix(settings, [{"embedding": [1.0]}]).weights == {DEFAULT_WITHOUT_OUTPUTS: 1.0}


@pytest.mark.parametrize(
    ("strategy", "blend", "pool", "embeddings"),
    [
        ("default", {}, True, True),
        ("margin", {}, False, False),
        ("k_center", {}, True, True),
        ("novelty", {}, False, True),
        ("blend", {"margin": 1, "entropy": 1}, True, False),
        ("blend", {"margin": 1, "novelty": 1}, True, True),
    ],
)
def test_the_pool_pass_and_embeddings_follow_what_the_strategies_declare(
    strategy, blend, pool, embeddings
):
    settings = LearningSettings(strategy=strategy, blend=blend)
    assert needs_pool(settings) is pool
    assert uses_embeddings(settings) is embeddings


def test_the_layout_table_names_task_types_of_the_model():
    assert set(TASK_TYPES) == set(ModelVersion.TaskType.values)
    assert {layout.task_type for layout in OUTPUT_LAYOUTS.values()} <= set(TASK_TYPES)


def test_a_spec_scoring_would_refuse_is_refused_at_upload(project):
    # Regression: box_format, thresholds and batch size were only read when scoring, so an
    # upload with a typo was stored and then failed every run.
    spec = {
        "input": {"size": [64, 64]},
        "output": {"layout": "detection", "box_format": "corners"},
        "class_names": ["person"],
    }
    with pytest.raises(CheckpointError) as caught:
        spec_normalise(project=project, spec=spec)
    assert list(caught.value.errors) == ["spec.output.box_format"]
    with pytest.raises(SpecInvalid):
        ModelSpec.parse(spec)


def test_an_upload_must_name_its_output_layout(project):
    with pytest.raises(CheckpointError) as caught:
        spec_normalise(project=project, spec={"input": {"size": 32}, "output": {}})
    assert list(caught.value.errors) == ["spec.output.layout"]


def test_the_stored_spec_reads_back_the_same_in_scoring(project):
    spec = spec_normalise(
        project=project,
        spec={"input": {"size": 32, "layout": "nhwc"}, "output": {"layout": "probs"}},
    )
    version = ModelVersion(
        project=project, name="x", kind="onnx", task_type="classification", spec=spec
    )
    read = ModelSpec.from_version(version)
    assert (read.height, read.width, read.layout, read.output_layout) == (32, 32, "NHWC", "probs")
    assert read == ModelSpec.parse(spec)


def test_a_box_never_suppresses_a_box_of_another_class():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    labels = np.array([1, 0, 1])
    assert class_nms(boxes, scores, labels).tolist() == [1, 0]
