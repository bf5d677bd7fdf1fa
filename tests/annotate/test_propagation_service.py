"""Propagation on the real database with a real small video: one new version per task,
human keyframes never overwritten, the project's threshold (stop or flag), both directions,
on into the next segment, undo in one step, and a job run twice writing once."""

from __future__ import annotations

import math

import pytest

from annotate.models import Annotation, Box, KeypointInstance
from annotate.models.propagation_jobs import PropagationJob
from annotate.propagation.services import (
    PropagationNotUndoable,
    PropagationRunning,
    propagation_run,
    propagation_start,
    propagation_undo,
)
from annotate.services.errors import InvalidFields, VersionConflict
from tests.annotate.propagation_media import (
    SPRITES,
    box_shape,
    frame_ids,
    hold,
    save,
    skeleton_shape,
    sprite_points,
    video_project_task,
)

pytestmark = pytest.mark.django_db


def corner_error(row: Box, truth) -> float:
    tx, ty, tw, th = truth
    return (
        math.dist((row.x, row.y), (tx, ty))
        + math.dist((row.x + row.w, row.y + row.h), (tx + tw, ty + th))
    ) / 2


@pytest.fixture
def segments(project, alice, media_root, tmp_path, monkeypatch):
    tasks = video_project_task(project, tmp_path, monkeypatch)
    assert [(t.frame_start, t.frame_end) for t in tasks] == [(0, 9), (10, 19)]
    for task in tasks:
        hold(task, alice)
    return tasks


def run(task, user, **request) -> PropagationJob:
    job = propagation_start(task=task, user=user, **request)
    return propagation_run(job_id=job.pk)


def boxes_of(annotation: Annotation, track: int = 1) -> dict[int, Box]:
    rows = Box.objects.filter(annotation=annotation, track__number=track).select_related("frame")
    return {row.frame.index: row for row in rows}


def test_a_propagated_box_and_skeleton_are_one_new_version_following_the_player(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    player = SPRITES[0]
    first = save(
        task,
        alice,
        boxes=[box_shape(ids[0], player.box(0))],
        keypoints=[skeleton_shape(ids[0], sprite_points(player, 0))],
    )

    job = run(task, alice, frame_id=ids[0], tracks=[1], base_version=first.version)

    assert (job.state, job.frames_done, job.frames_total) == ("done", 9, 9)
    assert job.versions == [{"task": task.pk, "base_version": 1, "version": 2}]
    latest = Annotation.objects.get(task=task, version=2)
    boxes = boxes_of(latest)
    assert sorted(boxes) == list(range(10))
    assert boxes[0].source == "human"
    for index in range(1, 10):
        row = boxes[index]
        assert (row.source, row.keyframe) == ("propagation", True)
        assert 0.8 < row.confidence <= 1.0
        assert corner_error(row, player.box(index)) < 1.5
    skeleton = KeypointInstance.objects.get(annotation=latest, frame_id=ids[9])
    assert skeleton.source == "propagation"
    for name, (x, y) in sprite_points(player, 9).items():
        px, py, visibility = skeleton.points[name]
        assert visibility == 2 and math.dist((px, py), (x, y)) < 1.5
    # The earlier version is untouched: every save is a new version.
    assert Box.objects.filter(annotation=first).count() == 1


def test_propagation_never_overwrites_a_human_keyframe_and_stops_before_it(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    player = SPRITES[0]
    # A human keyframe on frame 6, deliberately off, with frames between interpolated.
    human = (150.0, 100.0, 40.0, 40.0)
    interpolated = [
        box_shape(ids[i], player.box(0), keyframe=False) for i in range(1, 6)
    ]  # what the page stores between keyframes
    first = save(
        task,
        alice,
        boxes=[box_shape(ids[0], player.box(0)), *interpolated, box_shape(ids[6], human)],
    )

    job = run(task, alice, frame_id=ids[0], tracks=[1], base_version=first.version)

    boxes = boxes_of(Annotation.objects.get(task=task, version=job.versions[0]["version"]))
    assert sorted(boxes) == [0, 1, 2, 3, 4, 5, 6]
    assert all(boxes[i].source == "propagation" for i in range(1, 6))  # interpolation replaced
    kept = boxes[6]
    assert (kept.source, kept.x, kept.y, kept.w, kept.h) == ("human", *human)
    assert job.stops == [{"track": 1, "frame": 6, "reason": "a human keyframe is there"}]


def test_below_the_threshold_in_stop_mode_the_track_ends_there(
    project, alice, media_root, tmp_path, monkeypatch
):
    project.propagation_below = "stop"
    project.propagation_min_confidence = 0.5
    project.save()
    task = video_project_task(project, tmp_path, monkeypatch, replaced={0: 5})[0]
    hold(task, alice)
    ids = frame_ids(task)
    first = save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])

    job = run(task, alice, frame_id=ids[0], base_version=first.version)

    boxes = boxes_of(Annotation.objects.get(task=task, version=2))
    assert sorted(boxes) == [0, 1, 2, 3, 4, 5]  # the player's look changes on frame 5
    assert [f for f, row in boxes.items() if row.outside] == [5]  # gone from there on
    assert job.stops[0]["frame"] == 5 and "below 0.5" in job.stops[0]["reason"]
    assert job.flagged == []


def test_below_the_threshold_in_flag_mode_the_shapes_are_kept_and_listed_for_a_human(
    project, alice, media_root, tmp_path, monkeypatch
):
    task = video_project_task(project, tmp_path, monkeypatch, replaced={0: 5})[0]
    hold(task, alice)
    assert project.propagation_below == "flag"
    ids = frame_ids(task)
    first = save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])

    job = run(task, alice, frame_id=ids[0], base_version=first.version)

    boxes = boxes_of(Annotation.objects.get(task=task, version=2))
    assert sorted(boxes) == list(range(10))
    assert job.flagged == [{"track": 1, "frames": [5, 6, 7, 8, 9]}]
    assert all(boxes[i].confidence < 0.5 for i in range(5, 10))
    assert all(boxes[i].confidence > 0.8 for i in range(1, 5))


def test_backward_propagation_carries_a_shape_to_the_start_of_the_segment(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    player = SPRITES[1]
    first = save(task, alice, boxes=[box_shape(ids[9], player.box(9), track=2)])

    job = run(task, alice, frame_id=ids[9], direction="backward", base_version=first.version)

    boxes = boxes_of(Annotation.objects.get(task=task, version=2), track=2)
    assert sorted(boxes) == list(range(10))
    assert corner_error(boxes[0], player.box(0)) < 1.5
    assert job.stops == [{"track": 2, "frame": None, "reason": "the end was reached"}]


def test_to_the_end_of_the_video_the_next_segment_gets_its_own_new_version(segments, alice):
    first_task, second_task = segments
    ids = frame_ids(first_task)
    base = save(first_task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])

    job = run(first_task, alice, frame_id=ids[0], until="video", base_version=base.version)

    assert job.frames_total == 19
    assert job.versions == [
        {"task": first_task.pk, "base_version": 1, "version": 2},
        {"task": second_task.pk, "base_version": None, "version": 1},
    ]
    later = boxes_of(Annotation.objects.get(task=second_task, version=1))
    assert sorted(later) == list(range(10, 20))
    assert corner_error(later[19], SPRITES[0].box(19)) < 2.0


def test_the_video_s_next_segment_held_by_nobody_ends_the_propagation_before_it(
    project, alice, media_root, tmp_path, monkeypatch
):
    first_task, second_task = video_project_task(project, tmp_path, monkeypatch)
    hold(first_task, alice)  # not the second one
    ids = frame_ids(first_task)
    base = save(first_task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])

    job = run(first_task, alice, frame_id=ids[0], until="video", base_version=base.version)

    assert job.frames_total == 9
    assert [v["task"] for v in job.versions] == [first_task.pk]
    assert not Annotation.objects.filter(task=second_task).exists()
    assert "Frames 10-19 belong to a task you cannot change" in job.stops[0]["reason"]


def test_all_carries_every_track_and_makes_tracks_of_loose_shapes(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    loose = box_shape(ids[0], SPRITES[1].box(0), track=None)
    base = save(
        task,
        alice,
        boxes=[box_shape(ids[0], SPRITES[0].box(0), track=4), loose],
        tracks=[{"number": 4, "label": "person"}],
    )

    job = run(task, alice, frame_id=ids[0], tracks="all", base_version=base.version)

    latest = Annotation.objects.get(task=task, version=2)
    assert sorted(boxes_of(latest, track=4)) == list(range(10))
    assert sorted(boxes_of(latest, track=5)) == list(range(10))  # the loose box's new track
    assert corner_error(boxes_of(latest, track=5)[9], SPRITES[1].box(9)) < 1.5
    assert not Box.objects.filter(annotation=latest, track__isnull=True).exists()
    assert job.shapes_written == 18


def test_undo_restores_the_version_before_as_a_new_version_in_one_step(segments, alice):
    first_task, second_task = segments
    ids = frame_ids(first_task)
    base = save(first_task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])
    job = run(first_task, alice, frame_id=ids[0], until="video", base_version=base.version)

    undone = propagation_undo(job=job, user=alice)

    assert undone.undo_versions == [
        {"task": first_task.pk, "base_version": 2, "version": 3},
        {"task": second_task.pk, "base_version": 1, "version": 2},
    ]
    assert sorted(boxes_of(Annotation.objects.get(task=first_task, version=3))) == [0]
    assert not Box.objects.filter(annotation__task=second_task, annotation__version=2).exists()
    with pytest.raises(PropagationNotUndoable):
        propagation_undo(job=undone, user=alice)


def test_undo_is_refused_once_the_task_was_saved_after_the_propagation(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    base = save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])
    job = run(task, alice, frame_id=ids[0], base_version=base.version)
    save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))], base=2)

    with pytest.raises(PropagationNotUndoable, match="saved again after the propagation"):
        propagation_undo(job=job, user=alice)
    assert Annotation.objects.filter(task=task).count() == 3


def test_a_stale_version_is_a_conflict_and_a_second_start_waits_for_the_first(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])

    with pytest.raises(VersionConflict):
        propagation_start(task=task, user=alice, frame_id=ids[0], base_version=None)
    propagation_start(task=task, user=alice, frame_id=ids[0], base_version=1)
    with pytest.raises(PropagationRunning):
        propagation_start(task=task, user=alice, frame_id=ids[0], base_version=1)


def test_a_request_that_makes_no_sense_is_refused_field_by_field(segments, alice):
    task = segments[0]
    with pytest.raises(InvalidFields) as refused:
        propagation_start(
            task=task,
            user=alice,
            frame_id=frame_ids(task)[15],  # in the next segment
            tracks=[0, "x"],
            direction="sideways",
            until="forever",
        )
    assert set(refused.value.errors) == {"frame", "tracks", "direction", "until"}


def test_running_a_job_twice_writes_its_version_once(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    base = save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])
    job = propagation_start(task=task, user=alice, frame_id=ids[0], base_version=base.version)

    first = propagation_run(job_id=job.pk)
    again = propagation_run(job_id=job.pk)

    assert first.state == again.state == "done"
    assert again.versions == first.versions
    assert Annotation.objects.filter(task=task).count() == 2


def test_a_task_saved_while_the_job_waited_fails_the_job_and_writes_nothing(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    base = save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])
    job = propagation_start(task=task, user=alice, frame_id=ids[0], base_version=base.version)
    save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))], base=1)

    failed = propagation_run(job_id=job.pk)

    assert failed.state == "failed"
    assert "saved while it was being propagated" in failed.error
    assert Annotation.objects.filter(task=task).count() == 2


def test_a_track_without_a_shape_on_the_frame_is_skipped_with_the_reason(segments, alice):
    task = segments[0]
    ids = frame_ids(task)
    base = save(task, alice, boxes=[box_shape(ids[3], SPRITES[0].box(3))])

    job = run(task, alice, frame_id=ids[0], tracks=[1], base_version=base.version)

    assert job.state == "skipped"
    assert "track 1: it has no shape on this frame" in job.error
    assert Annotation.objects.filter(task=task).count() == 1


def test_in_stop_mode_a_covered_keypoint_stops_alone(
    project, alice, media_root, tmp_path, monkeypatch
):
    project.propagation_below = "stop"
    # The passer covers a little of the box too, which makes the box less sure (not lost).
    project.propagation_min_confidence = 0.3
    project.save()
    task = video_project_task(project, tmp_path, monkeypatch, passer=True)[0]
    hold(task, alice)
    ids = frame_ids(task)
    player = SPRITES[0]
    base = save(
        task,
        alice,
        boxes=[box_shape(ids[0], player.box(0))],
        keypoints=[skeleton_shape(ids[0], sprite_points(player, 0))],
    )

    job = run(task, alice, frame_id=ids[0], base_version=base.version)

    latest = Annotation.objects.get(task=task, version=2)
    assert sorted(boxes_of(latest)) == list(range(10))  # the player goes on
    skeletons = {k.frame_id: k.points for k in KeypointInstance.objects.filter(annotation=latest)}
    assert skeletons[ids[5]]["left_hip"][2] == 2
    assert skeletons[ids[6]]["left_hip"] == [0, 0, 0]  # lost under the passer, not guessed
    assert skeletons[ids[9]]["left_hip"] == [0, 0, 0]
    assert all(skeletons[ids[9]][name][2] == 2 for name in ("left_shoulder", "right_hip"))
    assert job.stops == [{"track": 1, "frame": None, "reason": "the end was reached"}]


def test_propagated_shapes_carry_the_start_shape_s_attributes_and_occluded_flag(segments, alice):
    task = segments[0]
    task.project.label_classes.filter(name="person").update(
        attributes=[{"name": "helmet", "input": "checkbox", "mutable": False}]
    )
    ids = frame_ids(task)
    player = SPRITES[0]
    first = save(
        task,
        alice,
        boxes=[box_shape(ids[0], player.box(0), attributes={"helmet": True}, occluded=True)],
    )

    job = run(task, alice, frame_id=ids[0], tracks=[1], base_version=first.version)

    assert job.state == "done", job.error
    boxes = boxes_of(Annotation.objects.get(task=task, version=2))
    assert sorted(boxes) == list(range(10))
    assert {(b.attributes["helmet"], b.occluded) for b in boxes.values()} == {(True, True)}
