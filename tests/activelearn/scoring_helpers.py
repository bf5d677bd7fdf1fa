"""Real ONNX models built with onnx.helper, pictures made with Pillow, and the rows that hold
them, for the scoring tests and benchmark."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import onnx
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from activelearn.models import ModelVersion
from annotate.models import AnnotationTask, Asset, Project


def _model_bytes(nodes, inputs, outputs, initializers) -> bytes:
    graph = helper.make_graph(nodes, "scoring-test", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _image_input(size: int):
    return helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])


def colour_classifier_onnx(*, size: int = 32, sharpness: float = 8.0) -> bytes:
    """[N, 3, size, size] -> mean colour -> softmax over 3 classes (red, green, blue).
    A saturated picture is a confident prediction; a grey one is a three-way tie."""
    weights = numpy_helper.from_array((np.eye(3) * sharpness).astype(np.float32), "weights")
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weights"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    output = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])
    return _model_bytes(nodes, [_image_input(size)], [output], [weights])


def embedding_onnx(*, size: int = 32, dims: int = 4) -> bytes:
    """[N, 3, size, size] -> mean colour -> a fixed linear map to `dims` dimensions."""
    matrix = np.random.default_rng(7).normal(size=(3, dims)).astype(np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "projection"], ["embedding"]),
    ]
    output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dims])
    projection = numpy_helper.from_array(matrix, "projection")
    return _model_bytes(nodes, [_image_input(size)], [output], [projection])


def cnn_classifier_onnx(*, size: int = 128, classes: int = 10, width: int = 32) -> bytes:
    """A small real CNN: three 3x3 stride-2 conv + ReLU blocks, global pooling, a linear
    layer and softmax. Random but fixed weights; inference is real work."""
    rng = np.random.default_rng(11)
    initializers, nodes = [], []
    channels_in, current = 3, "images"
    for block, channels_out in enumerate((width, width * 2, width * 4)):
        fan_in = channels_in * 9
        kernel = rng.normal(0, np.sqrt(2 / fan_in), (channels_out, channels_in, 3, 3))
        initializers += [
            numpy_helper.from_array(kernel.astype(np.float32), f"w{block}"),
            numpy_helper.from_array(np.zeros(channels_out, np.float32), f"b{block}"),
        ]
        nodes += [
            helper.make_node(
                "Conv",
                [current, f"w{block}", f"b{block}"],
                [f"c{block}"],
                kernel_shape=[3, 3],
                strides=[2, 2],
                pads=[1, 1, 1, 1],
            ),
            helper.make_node("Relu", [f"c{block}"], [f"r{block}"]),
        ]
        channels_in, current = channels_out, f"r{block}"
    dense = rng.normal(0, 1 / np.sqrt(channels_in), (channels_in, classes)).astype(np.float32)
    initializers.append(numpy_helper.from_array(dense, "dense"))
    nodes += [
        helper.make_node("GlobalAveragePool", [current], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "dense"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    output = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", classes])
    return _model_bytes(nodes, [_image_input(size)], [output], initializers)


def image_spec(size: int, *, output: str = "probs", layout: str = "probs", **extra) -> dict:
    return {
        "input": {
            "name": "images",
            "size": [size, size],
            "layout": "NCHW",
            "channel_order": "RGB",
            "scale": 1 / 255,
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
        },
        "output": {"name": output, "layout": layout},
        **extra,
    }


def version_register(
    project: Project,
    model: bytes | None,
    *,
    name: str = "v1",
    task_type: str = ModelVersion.TaskType.CLASSIFICATION,
    spec: dict | None = None,
    kind: str = ModelVersion.Kind.ONNX,
    active: bool = True,
) -> ModelVersion:
    version = ModelVersion(
        project=project,
        name=name,
        kind=kind,
        task_type=task_type,
        spec=spec or {},
        sha256=hashlib.sha256(model).hexdigest() if model else "",
        is_active=active,
    )
    if model:
        version.file.save("model.onnx", ContentFile(model), save=False)
    version.save()
    return version


def picture_bytes(colour, *, size: tuple[int, int] = (64, 48), fmt: str = "PNG", noise=0) -> bytes:
    array = np.empty((size[1], size[0], 3), dtype=np.uint8)
    array[:] = colour
    if noise:
        jitter = np.random.default_rng(sum(colour)).integers(-noise, noise + 1, array.shape)
        array = np.clip(array.astype(int) + jitter, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(array).save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def image_task_create(
    project: Project,
    colour,
    *,
    size: tuple[int, int] = (64, 48),
    fmt: str = "PNG",
    features: bool = False,
    noise: int = 0,
    salt: str = "",
) -> AnnotationTask:
    """An image asset (stored through default_storage) and its pending task."""
    data = picture_bytes(colour, size=size, fmt=fmt, noise=noise)
    digest = hashlib.sha256(data + salt.encode()).hexdigest()
    suffix = "jpg" if fmt == "JPEG" else "png"
    name = default_storage.save(
        f"projects/{project.pk}/assets/{digest}.{suffix}", ContentFile(data)
    )
    asset = Asset.objects.create(
        project=project,
        kind=Asset.Kind.IMAGE,
        file=name,
        original_name=f"{colour}.{suffix}",
        sha256=digest,
        size_bytes=len(data),
        content_type=f"image/{'jpeg' if fmt == 'JPEG' else 'png'}",
        width=size[0],
        height=size[1],
        state=Asset.State.READY,
        features=_histogram(data) if features else None,
    )
    return AnnotationTask.objects.create(
        project=project, asset=asset, kind=AnnotationTask.Kind.IMAGE
    )


def _histogram(data: bytes) -> dict:
    from annotate.ingest.images import HISTOGRAM_BINS, colour_histogram

    with Image.open(io.BytesIO(data)) as image:
        return {"color_histogram": colour_histogram(image), "bins_per_channel": HISTOGRAM_BINS}
