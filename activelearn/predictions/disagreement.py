"""How far each submission strays from the model's prediction for its task: what the review
sample weighs as model disagreement (annotate.queue.sampling), filled here because the
predictions are this app's. 1 - agreement (annotate.quality.attempts.attempt_score) between
the active version's shapes (accepted and suggested alike) and the task's latest submission,
compared as boxes and skeletons frame by frame (track identities left out: a model's tracks
are linked after the fact, an annotator's are drawn)."""

from __future__ import annotations

import dataclasses

from activelearn.predictions.suggestions import task_suggestions
from annotate.models import Annotation, Frame, ReviewSample
from annotate.quality.attempts import annotation_shapes, attempt_score
from annotate.quality.shapes import BOX, KEYPOINTS, Shape
from annotate.queue.sampling import review_model_disagreement_set


def _predicted(task, names: list[str]) -> list[Shape] | None:
    answer = task_suggestions(task=task)
    if answer["model_version"] is None:
        return None
    positions = {}
    if task.frame_start is not None:
        frames = Frame.objects.filter(
            asset_id=task.asset_id, index__gte=task.frame_start, index__lte=task.frame_end
        ).order_by("index")
        positions = {pk: i for i, pk in enumerate(frames.values_list("pk", flat=True))}
    shapes = []
    for shape in [*answer["accepted"], *answer["suggestions"]]:
        frame = positions.get(shape.get("frame")) if shape.get("frame") is not None else None
        if shape.get("type") == "box":
            box = (shape["x"], shape["y"], shape["w"], shape["h"])
            shapes.append(Shape(kind=BOX, label=shape["label"], frame=frame, box=box))
        elif shape.get("points"):
            points = tuple(
                tuple(float(v) for v in shape["points"].get(n, (0.0, 0.0, 0))) for n in names
            )
            shapes.append(Shape(kind=KEYPOINTS, label=shape["label"], frame=frame, points=points))
    return shapes


def model_disagreement_fill(*, project_id: int) -> int:
    """Fill the model disagreement of the project's submissions still waiting to be
    sampled; the number filled. Idempotent: the catch-up may call it again."""
    samples = ReviewSample.objects.filter(
        task__project_id=project_id, sampled_at__isnull=True, model_disagreement__isnull=True
    ).select_related("task", "task__project", "task__asset")
    values = {}
    for sample in samples:
        task = sample.task
        names = task.project.keypoint_names
        predicted = _predicted(task, names)
        if predicted is None:
            continue
        latest = (
            task.annotations.filter(kind=Annotation.Kind.SUBMISSION).order_by("-version").first()
        )
        labeled = [dataclasses.replace(s, track=None) for s in annotation_shapes(latest, task)]
        score, _ = attempt_score(predicted, labeled, keypoint_names=names)
        values[task.pk] = min(max(1.0 - score, 0.0), 1.0)
    return review_model_disagreement_set(values=values)
