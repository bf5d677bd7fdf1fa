"""Outputs that carry probabilities, scores, boxes, keypoints or embeddings must be
floating-point: an int64 "probability" passes every shape check and then scores nonsense, so
the upload check refuses it, naming the output and the reason."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from onnx import TensorProto, helper

from activelearn.models import ModelVersion
from activelearn.versions.services import CheckpointError, checkpoint_upload

from . import onnx_builders as build

pytestmark = pytest.mark.django_db


def one_hot_int64_classifier(classes: int = 2, size: int = 32) -> bytes:
    """Rows of 0 and 1 that sum to 1, as int64: the arg-max class, one-hot."""
    nodes = [
        *build._pooled(),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["best"], axis=1, keepdims=0),
        helper.make_node("OneHot", ["best", "depth", "values"], ["probs"], axis=-1),
    ]
    output = helper.make_tensor_value_info("probs", TensorProto.INT64, ["N", classes])
    inits = [
        build._weights("w", 3, classes),
        build._const("depth", [classes]),
        build._const("values", [0, 1]),
    ]
    return build._model(nodes, [build._images(size)], [output], inits)


def cast_output(name: str, to: int, width: int, size: int = 32) -> bytes:
    """A matrix product cast to another element type: [N, width]."""
    nodes = [
        *build._pooled(),
        helper.make_node("MatMul", ["flat", "w"], ["raw"]),
        helper.make_node("Cast", ["raw"], [name], to=to),
    ]
    output = helper.make_tensor_value_info(name, to, ["N", width])
    return build._model(nodes, [build._images(size)], [output], [build._weights("w", 3, width)])


def refusal(project, user, data: bytes, spec: dict) -> dict:
    with pytest.raises(CheckpointError) as caught:
        checkpoint_upload(
            project=project,
            user=user,
            name="v1",
            file=SimpleUploadedFile("model.onnx", data),
            spec=spec,
            notes="",
        )
    assert not ModelVersion.objects.filter(project=project).exists()
    return caught.value.errors


def test_an_int64_class_probability_output_is_refused_not_activated(project, eve, media_root):
    errors = refusal(project, eve, one_hot_int64_classifier(), build.spec(layout="probs"))

    assert list(errors) == ["output probs"]
    assert errors["output probs"][0].startswith(
        "the values are int64 but class probabilities must be floating-point numbers"
    )


def test_integer_logits_are_refused(project, eve, media_root):
    data = cast_output("logits", TensorProto.INT32, 2)
    errors = refusal(project, eve, data, build.spec(layout="logits"))
    assert "int32 but class scores (logits) must be floating-point" in errors["output logits"][0]


def test_a_boolean_embedding_is_refused(project, eve, media_root):
    data = cast_output("embedding", TensorProto.BOOL, 8)
    errors = refusal(project, eve, data, build.spec(layout="embedding"))
    assert "bool but embeddings must be floating-point" in errors["output embedding"][0]


def test_a_float16_classifier_is_still_accepted(project, eve, media_root):
    data = cast_output("logits", TensorProto.FLOAT16, 2)
    version = checkpoint_upload(
        project=project,
        user=eve,
        name="half",
        file=SimpleUploadedFile("model.onnx", data),
        spec=build.spec(layout="logits"),
        notes="",
    )
    assert version.pk
