"""Model checkpoints: uploading an ONNX file with its spec (checked in a child process before it
is stored), activating a version (of any kind), and rolling back from the active one.

Only ONNX is ever parsed: no pickle, no torch.load. External-data tensors and custom operator
domains are refused before onnxruntime sees the file; onnxruntime itself runs in
`python -m activelearn.inference.check` under RLIMIT_AS and a timeout.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess  # noqa: S404  (a fixed argv of our own interpreter, no shell)
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from activelearn.inference.spec import ModelSpec, SpecInvalid
from activelearn.learning_settings import strategy_errors
from activelearn.models import LearningSettings, ModelVersion, ScoringRun
from activelearn.scoring.runs import rescore_project
from annotate.models import LabelClass, Project
from annotate.services.errors import InvalidFields

ALLOWED_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}


class CheckpointError(InvalidFields):
    """A refused checkpoint: `errors` maps a field (or an output's name) to messages, for
    a 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [message]}, f"{field}: {message}")


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


def spec_normalise(*, project: Project, spec: object) -> dict:
    """The spec as stored: read and checked by the ModelSpec scoring reads it with, the output
    layout named, class and keypoint names filled in (default: the project's), input size,
    layout and normalisation written out."""
    if not isinstance(spec, dict):
        raise CheckpointError("spec", "The spec must be a JSON object.")
    source = spec.get("input")
    output = spec.get("output")
    if not isinstance(source, dict) or not isinstance(output, dict):
        raise CheckpointError("spec", 'The spec needs "input" and "output" objects.')
    # A stored spec names its classes and keypoints, so the version keeps reading the same
    # outputs when the project's classes change later.
    if spec.get("class_names") is None:
        spec = {
            **spec,
            "class_names": list(
                LabelClass.objects.filter(project=project)
                .order_by("order", "id")
                .values_list("name", flat=True)
            ),
        }
    if spec.get("keypoint_names") is None:
        keypoints = list(project.keypoint_names) if project.keypoints_enabled else []
        spec = {**spec, "keypoint_names": keypoints}
    try:
        parsed = ModelSpec.parse(spec)  # no default layout: an upload names its own
    except SpecInvalid as error:
        raise CheckpointError(*error.problems[0]) from None
    return {
        **spec,
        "task_type": parsed.task_type,
        "class_names": list(parsed.class_names),
        "keypoint_names": list(parsed.keypoint_names),
        "input": {
            **source,
            "size": [parsed.height, parsed.width],
            "layout": parsed.layout,
            "channel_order": parsed.channel_order,
            "scale": parsed.scale,
            "mean": list(parsed.mean),
            "std": list(parsed.std),
        },
        "output": {**output, "layout": parsed.output_layout},
    }


def _looks_like_pickle(data: bytes) -> bool:
    # Protocol 2+ pickles start with PROTO (0x80) and the version; torch.save writes a zip.
    return (len(data) > 2 and data[0] == 0x80 and 2 <= data[1] <= 5) or data[:2] == b"PK"


def onnx_static_check(data: bytes) -> onnx.ModelProto:
    """Parse as an ONNX ModelProto (nothing else is ever deserialised) and refuse what
    onnxruntime must never be given: external data and custom operator domains."""
    if not data:
        raise CheckpointError("file", "The file is empty (0 bytes).")
    if _looks_like_pickle(data):
        raise CheckpointError(
            "file", "This is a Python pickle or a torch archive, not ONNX; it is never loaded."
        )
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # protobuf raises DecodeError and others
        raise CheckpointError("file", "Not an ONNX model: the file does not parse.") from None
    if not model.graph.node or not model.graph.output or not model.opset_import:
        raise CheckpointError("file", "Not an ONNX model: no graph, outputs or opset.")
    for tensor in onnx.external_data_helper._get_all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise CheckpointError(
                "file", f"The tensor {tensor.name!r} refers to external data; embed all weights."
            )
    domains = {opset.domain for opset in model.opset_import}
    domains |= {node.domain for graph in _graphs(model.graph) for node in graph.node}
    custom = sorted(domains - ALLOWED_DOMAINS)
    if custom:
        raise CheckpointError("file", f"Custom operator domains are refused: {', '.join(custom)}.")
    try:
        onnx.checker.check_model(model)
    except Exception as error:
        raise CheckpointError("file", f"Invalid ONNX model: {error}") from None
    return model


def _graphs(graph: onnx.GraphProto):
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attribute.g)
            for sub in attribute.graphs:
                yield from _graphs(sub)


def checkpoint_validate(*, data: bytes, spec: dict) -> dict:
    """Run the model on a dummy batch in a child process; returns the output shapes, or
    raises CheckpointError naming the input or output that is wrong."""
    memory = int(_setting("CHECKPOINT_CHECK_MEMORY_BYTES", 3 * 1024 * 1024 * 1024))
    timeout = float(_setting("CHECKPOINT_CHECK_TIMEOUT_SECONDS", 60))
    with tempfile.TemporaryDirectory(prefix="checkpoint-") as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(data)
        try:
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "activelearn.inference.check", str(path)],
                input=json.dumps({**spec, "memory_bytes": memory}),
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=str(settings.BASE_DIR),
                env={**os.environ, "PYTHONPATH": str(settings.BASE_DIR), "OMP_NUM_THREADS": "1"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CheckpointError(
                "file", f"Checking the model took longer than {timeout} s."
            ) from None
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise CheckpointError("file", f"The model check crashed: {tail[0][:300]}") from None
    if not result.get("ok"):
        raise CheckpointError(result.get("field") or "file", result.get("error") or "refused")
    return result["outputs"]


def checkpoint_prepare(
    *,
    project: Project,
    user,
    name: str,
    file,
    spec: object,
    notes: str = "",
    metrics: dict | None = None,
) -> tuple[ModelVersion, bytes]:
    """Every check of an upload, the child process included; returns the unsaved version
    and the file's bytes for checkpoint_store."""
    name = (name or "").strip()
    if not name:
        raise CheckpointError("name", "Give the version a name.")
    if ModelVersion.objects.filter(project=project, name=name).exists():
        raise CheckpointError("name", f"The project already has a version named {name!r}.")
    limit = int(_setting("CHECKPOINT_MAX_BYTES", 500 * 1024 * 1024))
    if file is None:
        raise CheckpointError("file", "Attach the ONNX file.")
    if file.size is not None and file.size > limit:
        raise CheckpointError("file", f"The file is larger than the limit of {limit} bytes.")
    file.seek(0)
    data = file.read(limit + 1)
    if len(data) > limit:
        raise CheckpointError("file", f"The file is larger than the limit of {limit} bytes.")
    normalised = spec_normalise(project=project, spec=spec)
    onnx_static_check(data)
    outputs = checkpoint_validate(data=data, spec=normalised)
    version = ModelVersion(
        project=project,
        name=name,
        kind=ModelVersion.Kind.ONNX,
        task_type=normalised["task_type"],
        spec={**normalised, "checked_outputs": outputs},
        sha256=hashlib.sha256(data).hexdigest(),
        notes=notes or "",
        metrics=metrics or {},
        uploaded_by=user,
    )
    return version, data


def checkpoint_store(*, version: ModelVersion, data: bytes) -> ModelVersion:
    """Save a prepared version and its file (removed again if the row cannot be saved)."""
    version.file.save(f"{version.sha256}.onnx", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            version.save()
    except IntegrityError:
        version.file.delete(save=False)
        raise CheckpointError(
            "name", f"The project already has a version named {version.name!r}."
        ) from None
    return version


def checkpoint_upload(
    *,
    project: Project,
    user,
    name: str,
    file,
    spec: object,
    notes: str = "",
    metrics: dict | None = None,
) -> ModelVersion:
    """Check and store an uploaded ONNX checkpoint as a new (inactive) version."""
    version, data = checkpoint_prepare(
        project=project, user=user, name=name, file=file, spec=spec, notes=notes, metrics=metrics
    )
    return checkpoint_store(version=version, data=data)


def checkpoint_activate(*, version: ModelVersion) -> ScoringRun:
    """Make `version` (an upload, a baseline or pushed predictions) its project's one active
    version and start rescoring. Refused (CheckpointError on "strategy") when the project's
    strategy needs what the version does not give, so no run fails on it later."""
    settings = LearningSettings.for_project(version.project)
    problems = strategy_errors(settings=settings, version=version, described_as="the model")
    if problems:
        reason = " ".join(message for messages in problems.values() for message in messages)
        raise CheckpointError(
            "strategy",
            f"{reason.rstrip('.')}. Choose a strategy it can feed in the learning "
            "settings (for example 'default') before activating it.",
        )
    with transaction.atomic():
        _lock_versions(version.project_id)
        ModelVersion.objects.filter(project_id=version.project_id, is_active=True).exclude(
            pk=version.pk
        ).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(
            is_active=True, activated_at=timezone.now()
        )
        version.refresh_from_db()
        return rescore_project(project=version.project, reason=ScoringRun.Reason.ACTIVATION)


def _lock_versions(project_id: int) -> None:
    # Lock the project's versions so two activations cannot both leave one active. No key
    # update: a scoring worker inserting scores that refer to a version (a foreign key
    # check takes a key share lock) is not blocked by it, so it cannot deadlock with an
    # activation that waits on the worker's run.
    list(
        ModelVersion.objects.select_for_update(no_key=True)
        .filter(project_id=project_id)
        .values_list("pk", flat=True)
    )


def model_versions_deactivate(*, project: Project) -> ScoringRun:
    """Leave the project with no active version: the queue goes back to the cold-start
    coverage order."""
    with transaction.atomic():
        _lock_versions(project.pk)
        ModelVersion.objects.filter(project=project, is_active=True).update(is_active=False)
        return rescore_project(project=project, reason=ScoringRun.Reason.ACTIVATION)


@dataclass(frozen=True)
class Rollback:
    """Where a rollback went: `to` is "previous", "baseline" or "none" (no model)."""

    to: str
    version: ModelVersion | None
    scoring_run: ScoringRun
    message: str


def checkpoint_rollback(*, project: Project) -> Rollback:
    """Go back from the active version: to the version active before it; when none was,
    to the newest built-in baseline version; when there is none, to no model at all (the
    cold-start order). Refused only when no model is active and none ever was."""
    active = ModelVersion.objects.active_for(project)
    others = ModelVersion.objects.filter(project=project).exclude(pk=active.pk if active else None)
    previous = others.filter(activated_at__isnull=False).order_by("-activated_at", "-id").first()
    if previous is not None:
        run = checkpoint_activate(version=previous)
        return Rollback("previous", previous, run, f"Back to {previous.name!r}, active before.")
    baseline = others.filter(kind=ModelVersion.Kind.BASELINE).order_by("-created_at", "-id").first()
    if baseline is not None:
        run = checkpoint_activate(version=baseline)
        return Rollback(
            "baseline",
            baseline,
            run,
            f"No version was active before; back to the newest built-in baseline "
            f"{baseline.name!r}.",
        )
    if active is None:
        raise CheckpointError("project", "No model is active, and none was before.")
    run = model_versions_deactivate(project=project)
    return Rollback(
        "none",
        None,
        run,
        f"No version was active before {active.name!r} and there is no built-in baseline "
        "yet: no model is active now, and the queue is in cold-start (coverage) order.",
    )
