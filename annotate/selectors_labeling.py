"""Reads for the labeling and review pages: a task's media, schema, latest version with its
shapes and the latest review, shaped as the page's script expects them."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from .models import (
    Annotation,
    AnnotationTask,
    Box,
    Frame,
    KeypointInstance,
    LabelClass,
    Review,
)
from .permissions import can, visible
from .queue.selectors import active_lease, version_chain
from .schema import keypoint_side


def _url(name: str, pk: int, fallback: str) -> str:
    """Media is served by the ingest area; its URL names may not exist in every build."""
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return fallback


def asset_image_url(asset_id: int) -> str:
    return _url("asset-original", asset_id, f"/media/assets/{asset_id}/original/")


def frame_image_url(frame_id: int) -> str:
    return _url("frame-image", frame_id, f"/media/frames/{frame_id}/")


def latest_annotation(task: AnnotationTask, user=None) -> Annotation | None:
    """The newest version of the task, or of the user's own chain when several annotators
    share it (annotate.queue.selectors.version_chain)."""
    return (
        version_chain(task, user)
        .select_related("author")
        .prefetch_related(
            Prefetch("boxes", queryset=Box.objects.select_related("label_class", "track")),
            Prefetch(
                "keypoint_instances",
                queryset=KeypointInstance.objects.select_related("label_class", "track"),
            ),
        )
        .order_by("-version")
        .first()
    )


def annotation_data(annotation: Annotation | None) -> dict:
    """A version in the same shape the save endpoint accepts, plus who and when."""
    if annotation is None:
        return {"version": None, "kind": None, "author": None, "created_at": None,
                "payload": {"tracks": [], "boxes": [], "keypoints": []}}  # fmt: skip
    boxes = sorted(annotation.boxes.all(), key=lambda b: b.pk)
    instances = sorted(annotation.keypoint_instances.all(), key=lambda k: k.pk)
    tracks = {}
    for shape in [*boxes, *instances]:
        if shape.track is not None:
            tracks[shape.track.number] = shape.label_class.name
    return {
        "version": annotation.version,
        "kind": annotation.kind,
        "author": annotation.author.get_username() if annotation.author else None,
        "created_at": annotation.created_at.isoformat(),
        "payload": {
            "tracks": [{"number": n, "label": label} for n, label in sorted(tracks.items())],
            "boxes": [
                {
                    "frame": b.frame_id,
                    "label": b.label_class.name,
                    "x": b.x,
                    "y": b.y,
                    "w": b.w,
                    "h": b.h,
                    "track": b.track.number if b.track else None,
                    "keyframe": b.keyframe,
                    "outside": b.outside,
                    "source": b.source,
                    "confidence": b.confidence,
                    "occluded": b.occluded,
                    "attributes": b.attributes,
                }
                for b in boxes
            ],
            "keypoints": [
                {
                    "frame": k.frame_id,
                    "label": k.label_class.name,
                    "track": k.track.number if k.track else None,
                    "keyframe": k.keyframe,
                    "outside": k.outside,
                    "source": k.source,
                    "confidence": k.confidence,
                    "occluded": k.occluded,
                    "attributes": k.attributes,
                    "points": k.points,
                }
                for k in instances
            ],
        },
    }


def latest_review(task: AnnotationTask) -> Review | None:
    return task.reviews.select_related("reviewer").order_by("-created_at", "-id").first()


def review_data(review: Review | None) -> dict | None:
    if review is None:
        return None
    return {
        "decision": review.decision,
        "comment": review.comment,
        "reviewer": review.reviewer.get_username() if review.reviewer else None,
        "created_at": review.created_at.isoformat(),
        "version": review.annotation.version if review.annotation_id else None,
    }


def schema_data(project) -> dict:
    classes = LabelClass.objects.filter(project=project, is_active=True).order_by("order", "id")
    skeleton = project.skeleton or {}
    names = list(skeleton.get("keypoints", []))
    return {
        "boxes": project.box_enabled,
        "keypoints": project.keypoints_enabled and bool(names),
        "tracks": project.tracks_enabled,
        "classes": [
            {"name": c.name, "color": c.color, "hotkey": c.hotkey, "attributes": c.attributes}
            for c in classes
        ],
        "skeleton": {
            "keypoints": [{"name": n, "side": keypoint_side(n)} for n in names],
            "edges": [list(e) for e in skeleton.get("edges", [])],
        },
    }


def media_data(task: AnnotationTask) -> dict:
    asset = task.asset
    if task.kind == AnnotationTask.Kind.VIDEO:
        frames = Frame.objects.filter(
            asset_id=asset.pk, index__gte=task.frame_start, index__lte=task.frame_end
        ).order_by("index")
        return {
            "kind": "video",
            "fps": asset.fps,
            "frames": [
                {
                    "id": f.pk,
                    "index": f.index,
                    "url": frame_image_url(f.pk),
                    "width": f.width,
                    "height": f.height,
                }
                for f in frames
            ],
        }
    return {
        "kind": "image",
        "frames": [
            {
                "id": None,
                "index": 0,
                "url": asset_image_url(asset.pk),
                "width": asset.width,
                "height": asset.height,
            }
        ],
    }


def task_payload(task: AnnotationTask, user) -> dict:
    """Everything the labeling page needs to show one task."""
    annotation = latest_annotation(task, user)
    # The user's own lease when they hold the task (each of k holders has one).
    lease = active_lease(task_id=task.pk, user=user)
    expires = lease.expires_at if lease is not None else task.lease_expires_at
    return {
        "task": {
            "id": task.pk,
            "project": task.project_id,
            "kind": task.kind,
            "state": task.state,
            "asset": task.asset_id,
            "asset_name": task.asset.original_name,
            "frame_start": task.frame_start,
            "frame_end": task.frame_end,
            "annotator": task.annotator.get_username() if task.annotator else None,
            "lease_expires_at": expires.isoformat() if expires else None,
            "editable": task.state not in AnnotationTask.State.LABELED
            and can(user, "task.label", task),
            # Submitting goes through the queue, which wants the user to hold the lease.
            "leased_to_me": lease is not None and lease.expires_at > timezone.now(),
            "reviewable": task.state in AnnotationTask.State.AWAITING_REVIEW
            and can(user, "task.review", task),
        },
        "schema": schema_data(task.project),
        "media": media_data(task),
        "annotation": annotation_data(annotation),
        "review": review_data(latest_review(task)),
    }


def tasks_to_review(user, project) -> QuerySet[AnnotationTask]:
    """Submitted tasks of a project the user may review, oldest submission first."""
    return (
        visible(user, "task.review", AnnotationTask.objects.filter(project=project))
        .filter(state__in=AnnotationTask.State.AWAITING_REVIEW)
        .select_related("asset", "annotator")
        .order_by("submitted_at", "id")
    )
