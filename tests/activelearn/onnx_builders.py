"""Small real ONNX models for the checkpoint tests and benchmark, built with onnx.helper:
one per output layout the upload accepts, and some that must be refused."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def _model(nodes, inputs, outputs, initializers, *, opsets=OPSET, check=True) -> bytes:
    graph = helper.make_graph(nodes, "checkpoint-test", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    return model.SerializeToString()


def _images(size: int, batch="N"):
    return helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size])


def _weights(name: str, rows: int, cols: int, seed: int = 0):
    matrix = np.random.default_rng(seed).normal(size=(rows, cols)).astype(np.float32)
    return numpy_helper.from_array(matrix, name)


def _const(name: str, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _pooled() -> list:
    return [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
    ]


def classifier(*, classes: int = 2, size: int = 32, layout: str = "probs") -> bytes:
    nodes = [*_pooled(), helper.make_node("MatMul", ["flat", "w"], ["logits"])]
    out = "logits"
    if layout == "probs":
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
        out = "probs"
    output = helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", classes])
    return _model(nodes, [_images(size)], [output], [_weights("w", 3, classes)])


def rank3_classifier(*, classes: int = 2, size: int = 32) -> bytes:
    """Probabilities with an extra axis: [N, C, 1]."""
    nodes = [
        *_pooled(),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["soft"], axis=1),
        helper.make_node("Unsqueeze", ["soft", "axes"], ["probs"]),
    ]
    output = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", classes, 1])
    inits = [_weights("w", 3, classes), _const("axes", [2])]
    return _model(nodes, [_images(size)], [output], inits)


def embedder(*, dims: int = 8, size: int = 32) -> bytes:
    nodes = [*_pooled(), helper.make_node("MatMul", ["flat", "w"], ["embedding"])]
    output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dims])
    return _model(nodes, [_images(size)], [output], [_weights("w", 3, dims)])


def detector(*, classes: int = 2, boxes: int = 5, size: int = 32) -> bytes:
    """boxes [N, B, 4], scores [N, B], class_probs [N, B, C]."""
    nodes = [
        *_pooled(),
        helper.make_node("MatMul", ["flat", "wb"], ["box_flat"]),
        helper.make_node("Reshape", ["box_flat", "box_shape"], ["boxes"]),
        helper.make_node("MatMul", ["flat", "ws"], ["score_raw"]),
        helper.make_node("Sigmoid", ["score_raw"], ["scores"]),
        helper.make_node("MatMul", ["flat", "wc"], ["cls_flat"]),
        helper.make_node("Reshape", ["cls_flat", "cls_shape"], ["cls"]),
        helper.make_node("Softmax", ["cls"], ["class_probs"], axis=2),
    ]
    outputs = [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", boxes, 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", boxes]),
        helper.make_tensor_value_info("class_probs", TensorProto.FLOAT, ["N", boxes, classes]),
    ]
    inits = [
        _weights("wb", 3, boxes * 4, 1),
        _weights("ws", 3, boxes, 2),
        _weights("wc", 3, boxes * classes, 3),
        _const("box_shape", [-1, boxes, 4]),
        _const("cls_shape", [-1, boxes, classes]),
    ]
    return _model(nodes, [_images(size)], outputs, inits)


def yolo(*, channels: int, anchors: int = 16, size: int = 64) -> bytes:
    """Ultralytics-style single output [1, channels, anchors] (detect: 4 + C; pose:
    4 + 1 + K * 3), batch fixed at 1 as the exporter writes it."""
    nodes = [
        *_pooled(),
        helper.make_node("MatMul", ["flat", "w"], ["raw"]),
        helper.make_node("Sigmoid", ["raw"], ["unit"]),
        helper.make_node("Mul", ["unit", "pixels"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "shape"], ["output0"]),
    ]
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, channels, anchors])
    inits = [
        _weights("w", 3, channels * anchors, 4),
        numpy_helper.from_array(np.float32(size / 4), "pixels"),
        _const("shape", [1, channels, anchors]),
    ]
    return _model(nodes, [_images(size, batch=1)], [output], inits)


def custom_domain_model(*, size: int = 32) -> bytes:
    nodes = [
        *_pooled(),
        helper.make_node("Evil", ["flat"], ["probs"], domain="com.example.evil"),
    ]
    output = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 2])
    opsets = [*OPSET, helper.make_opsetid("com.example.evil", 1)]
    return _model(nodes, [_images(size)], [output], [], opsets=opsets, check=False)


def external_data_model(*, size: int = 32) -> bytes:
    weights = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3, 2])
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "24")):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    nodes = [*_pooled(), helper.make_node("MatMul", ["flat", "w"], ["probs"])]
    output = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 2])
    return _model(nodes, [_images(size)], [output], [weights], check=False)


def spec(*, layout: str = "probs", size: int = 32, **extra) -> dict:
    output = {"layout": layout, **extra.pop("output", {})}
    return {
        "input": {"name": "images", "size": [size, size], "layout": "NCHW", "channel_order": "RGB"},
        "output": output,
        **extra,
    }
