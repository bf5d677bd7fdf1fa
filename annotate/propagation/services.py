"""Propagation as a job: start it (checked, queued after commit), run it in a worker, undo it.

A run loads the latest version of the task (and, to the end of the video, of the following
segments' tasks), decodes the frames it passes once each, carries the chosen tracks along
them with annotate.propagation.flow, and writes ONE new version per task it touched, through
the editor's save service (validated like every save), in the same transaction as the job's
end. Undo writes each task's version from before the job as a newer version.

Rules:
- A track stops before a frame where it has a keyframe that propagation did not make (a
  human's, or a model's): those are never overwritten.
- Propagated shapes are keyframes with source "propagation" and a confidence: the weakest
  forward-backward step since the start (annotate.propagation.flow). Below the project's
  threshold the track stops there ("stop"), or its shapes are kept and listed in the job's
  `flagged` for a human to check ("flag"). In "stop" mode a keypoint below it stops alone.
- Shapes propagation made earlier, and frames the page interpolated, are replaced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np
from django.db import transaction
from django.utils import timezone

from annotate.jobs import job_claim, job_enqueue, job_fail, job_finish, job_heartbeat
from annotate.models import (
    Annotation,
    AnnotationTask,
    Frame,
    PropagationBelow,
)
from annotate.models.jobs import LIVE_STATES
from annotate.models.propagation_jobs import JobState, PropagationJob
from annotate.permissions import can
from annotate.queue.selectors import has_own_versions
from annotate.selectors_labeling import annotation_data, latest_annotation
from annotate.services.annotations import annotation_save, latest_version
from annotate.services.errors import (
    InvalidFields,
    ServiceError,
    TaskNotEditable,
    VersionConflict,
)

from .flow import FlowTracker
from .payloads import (
    TaskWork,
    given_keyframe,
    merged,
    outside_rows,
    shapes_by_frame,
    shapes_of_step,
    starting_shapes,
    stop_record,
)

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5
FORWARD = PropagationJob.Direction.FORWARD


class PropagationRunning(ServiceError):
    status = 409
    code = "propagation_running"


class PropagationNotUndoable(ServiceError):
    status = 409
    code = "propagation_not_undoable"


# --- start ----------------------------------------------------------------------------------


def propagation_start(
    *,
    task: AnnotationTask,
    user,
    frame_id: object,
    tracks: object = "all",
    direction: object = FORWARD,
    until: object = PropagationJob.Until.SEGMENT,
    base_version: object = None,
) -> PropagationJob:
    """Check the request and queue the job. `tracks`: a list of track numbers, or "all" (every
    track with a shape on the frame, and the frame's shapes without a track, which become
    tracks). Raises InvalidFields (400), TaskNotEditable, VersionConflict, PropagationRunning
    (409)."""
    errors: dict[str, list[str]] = {}
    project = task.project
    if task.kind != AnnotationTask.Kind.VIDEO:
        errors["task"] = ["Propagation carries shapes along a video; this task is an image."]
    elif not project.tracks_enabled:
        errors["task"] = ["Propagation carries tracks: turn video tracks on in the schema."]
    frame = None
    if isinstance(frame_id, bool) or not isinstance(frame_id, int):
        errors["frame"] = ["Give the id of the frame to carry the shapes from."]
    elif task.kind == AnnotationTask.Kind.VIDEO:
        frame = Frame.objects.filter(
            pk=frame_id,
            asset_id=task.asset_id,
            index__gte=task.frame_start,
            index__lte=task.frame_end,
        ).first()
        if frame is None:
            errors["frame"] = [f"Frame {frame_id} is not in this task's segment."]
    if direction not in PropagationJob.Direction.values:
        errors["direction"] = ["Use 'forward' or 'backward'."]
    if until not in PropagationJob.Until.values:
        errors["until"] = ["Use 'segment' (its end) or 'video' (the end of the video)."]
    if tracks != "all" and not (
        isinstance(tracks, list)
        and tracks
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in tracks)
        and len(tracks) <= 5000
    ):
        errors["tracks"] = ['Give "all" or a list of track numbers.']
    if base_version is not None and (
        isinstance(base_version, bool) or not isinstance(base_version, int) or base_version < 1
    ):
        errors["base_version"] = ["A version number, or null for a task never saved."]
    if errors:
        raise InvalidFields(errors, "The propagation request is invalid.")

    with transaction.atomic():
        locked = AnnotationTask.objects.select_for_update().get(pk=task.pk)
        if locked.state in AnnotationTask.State.LABELED:
            raise TaskNotEditable(
                f"This task is {locked.get_state_display().lower()}: it cannot be changed "
                "unless a reviewer sends it back.",
                detail={"state": locked.state},
            )
        latest = latest_version(locked, user if has_own_versions(locked, user) else None)
        if base_version != latest:
            raise VersionConflict(
                f"This task was saved elsewhere (version {latest}) after the version you "
                f"propagate from ({base_version}): reload it first.",
                detail={"latest_version": latest},
            )
        if PropagationJob.objects.filter(task=locked, state__in=LIVE_STATES).exists():
            raise PropagationRunning("A propagation of this task is already running.")
        plan = _plan(locked, user, frame, direction, until)
        job = PropagationJob.objects.create(
            task=locked,
            created_by=user,
            start_frame=frame,
            direction=direction,
            until=until,
            tracks=None if tracks == "all" else sorted(set(tracks)),
            base_version=base_version,
            min_confidence=project.propagation_min_confidence,
            below_threshold=project.propagation_below,
            frames_total=len(plan.frames),
        )
        job_enqueue(job)
    return job


@dataclass
class _Plan:
    """The frames a run passes, in its order (the start frame not included), the tasks they
    belong to, and why it ends where it does when that is not the end asked for."""

    frames: list[Frame]
    tasks: dict[int, AnnotationTask]  # by frame id
    ends_early: str = ""


def _plan(task: AnnotationTask, user, start: Frame, direction: str, until: str) -> _Plan:
    forward = direction == FORWARD
    frames = Frame.objects.filter(asset_id=task.asset_id)
    if until == PropagationJob.Until.SEGMENT:
        frames = frames.filter(index__gte=task.frame_start, index__lte=task.frame_end)
    frames = (
        frames.filter(index__gt=start.index).order_by("index")
        if forward
        else frames.filter(index__lt=start.index).order_by("-index")
    )
    frames = list(frames)
    segments = {task.pk: task}
    tasks: dict[int, AnnotationTask] = {}
    others = []
    if until == PropagationJob.Until.VIDEO:
        others = list(
            AnnotationTask.objects.filter(asset_id=task.asset_id)
            .exclude(pk=task.pk)
            .select_related("project")
        )
    ends_early = ""
    kept = []
    for frame in frames:
        owner = None
        if task.frame_start <= frame.index <= task.frame_end:
            owner = task
        else:
            owner = next((t for t in others if t.frame_start <= frame.index <= t.frame_end), None)
            if owner is None:
                break  # a frame of no task (cannot happen with ingest's segments)
            if owner.pk not in segments:
                if owner.state in AnnotationTask.State.LABELED or not can(
                    user, "task.label", owner
                ):
                    ends_early = (
                        f"Frames {owner.frame_start}-{owner.frame_end} belong to a task you "
                        "cannot change now; propagation ends before them."
                    )
                    break
                segments[owner.pk] = owner
        tasks[frame.pk] = owner
        kept.append(frame)
    return _Plan(frames=kept, tasks=tasks, ends_early=ends_early)


# --- run ------------------------------------------------------------------------------------


def propagation_run(*, job_id: int) -> PropagationJob:
    """The job behind the Celery task annotate.propagation_run. Idempotent: a claimed or
    finished job is left alone, and everything is written in one transaction at the end."""
    if not job_claim(PropagationJob, job_id, frames_done=0):
        return PropagationJob.objects.get(pk=job_id)
    job = PropagationJob.objects.select_related(
        "task__project", "task__asset", "start_frame", "created_by"
    ).get(pk=job_id)
    try:
        _run(job)
    except (ServiceError, PropagationFailed) as error:
        job_fail(PropagationJob, job.pk, _message(error))
    except Exception as error:
        logger.exception("propagation %s failed", job.pk)
        job_fail(PropagationJob, job.pk, f"The propagation failed: {error}")
    return PropagationJob.objects.get(pk=job.pk)


class PropagationFailed(Exception):
    """The run cannot go on; the message is for the annotator."""


def _message(error: Exception) -> str:
    if isinstance(error, VersionConflict):
        return (
            "The task was saved while it was being propagated; nothing was written. "
            "Propagate again from the saved version."
        )
    if isinstance(error, ServiceError):
        problems = error.detail.get("errors") or {}
        first = next(iter(problems.items()), None)
        extra = f" ({first[0]}: {' '.join(first[1])})" if first else ""
        return f"{error.message}{extra}"
    return str(error)


def _run(job: PropagationJob) -> None:
    task, user = job.task, job.created_by
    plan = _plan(task, user, job.start_frame, job.direction, job.until)
    works: dict[int, TaskWork] = {}
    for owner in [task, *{t.pk: t for t in plan.tasks.values()}.values()]:
        if owner.pk in works:
            continue
        own_chain = has_own_versions(owner, user)
        latest = latest_annotation(owner, user)
        version = latest.version if latest else None
        if owner.pk == task.pk and version != job.base_version:
            raise VersionConflict("saved meanwhile", detail={"latest_version": version})
        works[owner.pk] = TaskWork(owner, own_chain, version, annotation_data(latest)["payload"])
    start_work = works[task.pk]
    shapes_at = shapes_by_frame([w.payload for w in works.values()])
    followed, starts, stops = starting_shapes(job, start_work, shapes_at)
    if not starts:
        job_finish(
            PropagationJob,
            job.pk,
            state=JobState.SKIPPED,
            stops=stops,
            error=_nothing_reason(stops),
        )
        return

    threshold = job.min_confidence
    stop_mode = job.below_threshold == PropagationBelow.STOP
    flagged: dict[int, list[int]] = {}
    written = 0
    tracker = FlowTracker(_gray(job.start_frame), starts)
    last_report = time.monotonic()
    frames_done = 0
    forward = job.direction == FORWARD
    last_rows: dict[int, list[tuple[str, dict]]] = {}
    for frame in plan.frames:
        # Never over a keyframe someone made: the track ends before it.
        for number in tracker.following:
            keyframe = given_keyframe(shapes_at.get((number, frame.pk), {}))
            if keyframe:
                tracker.drop(number)
                stops.append(stop_record(number, frame.index, f"a {keyframe} keyframe is there"))
        if not tracker.following:
            break
        steps = tracker.step(_gray(frame))
        work = works[plan.tasks[frame.pk].pk]
        for step in steps:
            track = followed[step.key]
            rows, below = shapes_of_step(step, track, frame, threshold, stop_mode, tracker)
            if rows is None:
                tracker.drop(step.key)
                stops.append(stop_record(step.key, frame.index, below))
                if forward and step.key in last_rows:
                    # A track lasts until it is marked outside: where the flow lost it,
                    # it is gone from here on, not held at its last shape.
                    work.written.extend(outside_rows(last_rows[step.key], frame))
                continue
            last_rows[step.key] = rows
            work.written.extend(rows)
            written += len(rows)
            if below:
                flagged.setdefault(step.key, []).append(frame.index)
        frames_done += 1
        now = time.monotonic()
        if now - last_report >= PROGRESS_EVERY_S:
            last_report = now
            progress = frames_done / max(job.frames_total, 1)
            if not job_heartbeat(
                PropagationJob, job.pk, progress=min(progress, 0.99), frames_done=frames_done
            ):
                return  # failed by the sweep, or taken over: its result is not wanted
    for number in tracker.following:
        stops.append(stop_record(number, None, plan.ends_early or "the end was reached"))

    versions = []
    with transaction.atomic():
        for work in works.values():
            if not work.written:
                continue
            annotation = annotation_save(
                task=work.task,
                user=user,
                payload=merged(work, followed),
                base_version=work.base_version,
                own_chain=work.own_chain,
            )
            versions.append(
                {
                    "task": work.task.pk,
                    "base_version": work.base_version,
                    "version": annotation.version,
                }
            )
        done = job_finish(
            PropagationJob,
            job.pk,
            state=JobState.DONE if versions else JobState.SKIPPED,
            frames_done=frames_done,
            versions=versions,
            shapes_written=written,
            flagged=[{"track": n, "frames": f} for n, f in sorted(flagged.items())],
            stops=stops,
            error="" if versions else _nothing_reason(stops),
        )
        if not done:
            # The sweep failed it meanwhile (or another run finished it): write nothing.
            transaction.set_rollback(True)


def _nothing_reason(stops: list[dict]) -> str:
    reasons = "; ".join(
        f"track {s['track']}: {s['reason']}" if s["track"] else s["reason"] for s in stops[:5]
    )
    return f"Nothing was carried ({reasons or 'no shapes on the frame'})."


def _gray(frame: Frame) -> np.ndarray:
    """A stored frame, decoded to grayscale."""
    with frame.image.open("rb") as file:
        data = np.frombuffer(file.read(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise PropagationFailed(f"Frame {frame.index} of the video cannot be decoded.")
    if image.shape != (frame.height, frame.width):
        raise PropagationFailed(
            f"Frame {frame.index} is {image.shape[1]}x{image.shape[0]} px, not the "
            f"{frame.width}x{frame.height} px recorded for it."
        )
    return image


# --- undo -----------------------------------------------------------------------------------


def propagation_undo(*, job: PropagationJob, user) -> PropagationJob:
    """Give every task the job wrote its version from before the job, as a newer version
    (one step). Refused (409) when a task was changed after the job, or the job did not
    write anything, or was undone already."""
    if job.state != JobState.DONE or not job.versions:
        raise PropagationNotUndoable("This propagation wrote nothing to undo.")
    if job.undone_at is not None:
        raise PropagationNotUndoable("This propagation was undone already.")
    written = []
    with transaction.atomic():
        locked = PropagationJob.objects.select_for_update().get(pk=job.pk)
        if locked.undone_at is not None:
            raise PropagationNotUndoable("This propagation was undone already.")
        for entry in job.versions:
            task = AnnotationTask.objects.select_related("project").get(pk=entry["task"])
            if not can(user, "task.label", task):
                raise PropagationNotUndoable(
                    f"Frames {task.frame_start}-{task.frame_end} belong to a task you cannot "
                    "change; the propagation cannot be undone by you."
                )
            own_chain = has_own_versions(task, user)
            latest = latest_version(task, user if own_chain else None)
            if latest != entry["version"]:
                raise PropagationNotUndoable(
                    f"Frames {task.frame_start}-{task.frame_end} were saved again after the "
                    f"propagation (version {latest}); undo it step by step in the editor.",
                )
            before = (
                Annotation.objects.filter(task=task, version=entry["base_version"]).first()
                if entry["base_version"] is not None
                else None
            )
            payload = annotation_data(_with_shapes(before))["payload"]
            annotation = annotation_save(
                task=task,
                user=user,
                payload=payload,
                base_version=entry["version"],
                own_chain=own_chain,
            )
            written.append(
                {"task": task.pk, "base_version": entry["version"], "version": annotation.version}
            )
        PropagationJob.objects.filter(pk=job.pk).update(
            undone_at=timezone.now(), undo_versions=written
        )
    return PropagationJob.objects.get(pk=job.pk)


def _with_shapes(annotation: Annotation | None) -> Annotation | None:
    if annotation is None:
        return None
    return (
        Annotation.objects.filter(pk=annotation.pk)
        .prefetch_related(
            "boxes__label_class",
            "boxes__track",
            "keypoint_instances__label_class",
            "keypoint_instances__track",
        )  # fmt: skip
        .select_related("author")
        .get()
    )
