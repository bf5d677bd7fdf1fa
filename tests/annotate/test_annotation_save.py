"""annotation_save: every shape validated, a new version per save, stale saves refused,
locked tasks refused, a schema change answered with 409 instead of a lost draft."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from annotate.models import Annotation, AnnotationTask, Box, KeypointInstance, Track
from annotate.services.annotations import annotation_save
from annotate.services.errors import (
    SchemaChanged,
    ShapeValidationError,
    TaskNotEditable,
    VersionConflict,
)
from tests.browser.media import image_task, video_task


def box(**over) -> dict:
    return {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50, **over}


@pytest.fixture
def task(project, alice):
    return image_task(project, width=640, height=480, write_file=False, lease_user=alice)


@pytest.fixture
def video(project, alice):
    return video_task(project, frames=3, write_file=False, lease_user=alice)


def save(task, user, payload, base=None, **kw):
    return annotation_save(task=task, user=user, payload=payload, base_version=base, **kw)


def errors_of(excinfo) -> dict:
    return excinfo.value.detail["errors"]


def test_first_save_writes_version_one_with_its_boxes(task, alice):
    annotation = save(task, alice, {"boxes": [box(), box(x=200)]})
    assert annotation.version == 1 and annotation.base_version is None
    assert annotation.kind == "draft" and annotation.author == alice
    assert sorted(b.x for b in annotation.boxes.all()) == [10, 200]


def test_each_save_is_a_new_version_and_old_versions_keep_their_shapes(task, alice):
    first = save(task, alice, {"boxes": [box()]})
    second = save(task, alice, {"boxes": [box(x=30), box(x=300)]}, base=1)
    assert second.version == 2 and second.base_version == 1
    assert first.boxes.count() == 1 and second.boxes.count() == 2
    assert Annotation.objects.filter(task=task).count() == 2


def test_a_save_from_an_older_version_is_a_conflict_and_writes_nothing(task, alice):
    save(task, alice, {"boxes": [box()]})
    save(task, alice, {"boxes": [box()]}, base=1)
    with pytest.raises(VersionConflict) as excinfo:
        save(task, alice, {"boxes": [box(x=99)]}, base=1)
    assert excinfo.value.detail == {"latest_version": 2}
    assert excinfo.value.status == 409
    assert Annotation.objects.filter(task=task).count() == 2


def test_a_new_draft_over_an_existing_version_is_a_conflict(task, alice):
    save(task, alice, {"boxes": [box()]})
    with pytest.raises(VersionConflict):
        save(task, alice, {"boxes": []}, base=None)


def test_force_overwrites_explicitly_as_a_newer_version(task, alice):
    save(task, alice, {"boxes": [box()]})
    save(task, alice, {"boxes": [box()]}, base=1)
    forced = save(task, alice, {"boxes": [box(x=1)]}, base=1, force=True)
    assert forced.version == 3 and forced.base_version == 1


def test_boxes_of_zero_or_negative_size_are_refused_per_field(task, alice):
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"boxes": [box(), box(w=0), box(h=-3)]})
    errors = errors_of(excinfo)
    assert "boxes[1].w" in errors and "boxes[2].h" in errors
    assert "boxes[0].w" not in errors
    assert excinfo.value.status == 400
    assert not Annotation.objects.filter(task=task).exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "12", None, True])
def test_coordinates_must_be_finite_numbers(task, alice, bad):
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"boxes": [box(x=bad)]})
    assert "boxes[0].x" in errors_of(excinfo)


def test_a_box_outside_the_image_names_the_clipping_rule(task, alice):
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"boxes": [box(x=600, w=100)]})
    (message,) = errors_of(excinfo)["boxes[0].w"]
    assert "[0, 640] x [0, 480]" in message and "0.5 px" in message


def test_a_box_within_half_a_pixel_of_the_edge_is_clipped_to_the_image(task, alice):
    annotation = save(task, alice, {"boxes": [box(x=-0.4, y=0, w=640.8, h=480.3)]})
    stored = annotation.boxes.get()
    assert (stored.x, stored.y, stored.w, stored.h) == (0, 0, 640, 480)


def test_an_unknown_class_is_a_schema_change_not_a_lost_draft(task, alice):
    with pytest.raises(SchemaChanged) as excinfo:
        save(task, alice, {"boxes": [box(label="unicorn")]})
    assert excinfo.value.status == 409
    assert "boxes[0].label" in errors_of(excinfo)


def test_a_class_removed_while_labeling_gives_409(task, alice, project):
    save(task, alice, {"boxes": [box(label="bicycle")]})
    project.label_classes.filter(name="bicycle").update(is_active=False)
    with pytest.raises(SchemaChanged):
        save(task, alice, {"boxes": [box(label="bicycle")]}, base=1)
    assert Annotation.objects.filter(task=task).count() == 1


def test_form_errors_win_over_schema_changes(task, alice):
    with pytest.raises(ShapeValidationError):
        save(task, alice, {"boxes": [box(label="unicorn"), box(w=-1)]})


def test_keypoints_are_stored_with_visibility_and_unlabeled_points_zeroed(task, alice):
    points = {
        "left_shoulder": [100, 100, 2],
        "right_shoulder": [200, 100, 1],
        "left_hip": [110, 250, 2],
        "right_hip": [55, 66, 0],
    }
    annotation = save(
        task, alice, {"keypoints": [{"frame": None, "label": "person", "points": points}]}
    )
    stored = annotation.keypoint_instances.get().points
    assert stored["right_shoulder"] == [200, 100, 1]
    assert stored["right_hip"] == [0, 0, 0]


def test_keypoint_visibility_must_be_0_1_or_2_and_names_must_be_known(task, alice):
    bad = {"left_shoulder": [1, 1, 3], "left_hip": [1, 1, True]}
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"keypoints": [{"frame": None, "label": "person", "points": bad}]})
    errors = errors_of(excinfo)
    assert "keypoints[0].points.left_shoulder" in errors
    assert "keypoints[0].points.left_hip" in errors
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"keypoints": [{"label": "person", "points": {"tail": [1, 1, 2]}}]})
    assert "keypoints[0].points.tail" in errors_of(excinfo)


def test_a_skeleton_with_no_labeled_point_is_refused(task, alice):
    points = {"left_shoulder": [0, 0, 0]}
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"keypoints": [{"frame": None, "label": "person", "points": points}]})
    assert "keypoints[0].points" in errors_of(excinfo)


def test_a_video_shape_needs_a_frame_of_this_segment(video, alice, project):
    other = video_task(project, frames=2, write_file=False)
    foreign = other.asset.frames.first().pk
    with pytest.raises(ShapeValidationError) as excinfo:
        save(video, alice, {"boxes": [box(frame=None), box(frame=foreign)]})
    errors = errors_of(excinfo)
    assert "boxes[0].frame" in errors and "boxes[1].frame" in errors
    assert "not in this task's segment" in errors["boxes[1].frame"][0]


def test_an_image_task_has_no_tracks(task, alice):
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"tracks": [{"number": 1, "label": "person"}], "boxes": [box(track=1)]})
    assert "tracks[0]" in errors_of(excinfo)


def test_tracks_are_created_once_per_video_and_reused_by_later_versions(video, alice):
    f0, f1, f2 = video.asset.frames.order_by("index").values_list("pk", flat=True)
    payload = {
        "tracks": [{"number": 1, "label": "person"}],
        "boxes": [
            box(frame=f0, track=1, x=0),
            box(frame=f1, track=1, x=10, keyframe=False),
            box(frame=f2, track=1, x=20),
        ],
    }
    first = save(video, alice, payload)
    second = save(video, alice, payload, base=1)
    assert Track.objects.filter(asset=video.asset).count() == 1
    track = Track.objects.get(asset=video.asset, number=1)
    assert set(first.boxes.values_list("track", flat=True)) == {track.pk}
    assert second.boxes.filter(keyframe=False).count() == 1


def test_a_track_number_must_be_declared_and_hold_one_box_per_frame(video, alice):
    f0 = video.asset.frames.order_by("index").first().pk
    payload = {
        "tracks": [{"number": 1, "label": "person"}],
        "boxes": [box(frame=f0, track=1), box(frame=f0, track=1), box(frame=f0, track=7)],
    }
    with pytest.raises(ShapeValidationError) as excinfo:
        save(video, alice, payload)
    errors = errors_of(excinfo)
    assert "boxes[1].track" in errors and "boxes[2].track" in errors


def test_a_tracked_box_must_have_its_tracks_class(video, alice):
    f0 = video.asset.frames.order_by("index").first().pk
    payload = {
        "tracks": [{"number": 1, "label": "person"}],
        "boxes": [box(frame=f0, track=1, label="bicycle")],
    }
    with pytest.raises(ShapeValidationError) as excinfo:
        save(video, alice, payload)
    assert "boxes[0].label" in errors_of(excinfo)


def test_a_model_shape_needs_a_confidence(task, alice):
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"boxes": [box(source="model")]})
    assert "boxes[0].confidence" in errors_of(excinfo)
    annotation = save(task, alice, {"boxes": [box(source="model", confidence=0.7)]})
    assert annotation.boxes.get().confidence == 0.7


@pytest.mark.parametrize("state", ["submitted", "in_review", "accepted"])
def test_submitted_or_accepted_work_cannot_be_changed(task, alice, state):
    AnnotationTask.objects.filter(pk=task.pk).update(state=state)
    with pytest.raises(TaskNotEditable) as excinfo:
        save(task, alice, {"boxes": [box()]})
    assert excinfo.value.status == 409


def test_a_rejected_task_is_editable_again(task, alice):
    save(task, alice, {"boxes": [box()]})
    AnnotationTask.objects.filter(pk=task.pk).update(state="rejected")
    assert save(task, alice, {"boxes": [box(x=1)]}, base=1).version == 2


def test_a_submission_is_stored_with_its_kind(task, alice):
    annotation = save(task, alice, {"boxes": [box()]}, kind="submission")
    assert annotation.kind == "submission"


def test_malformed_payloads_are_field_errors(task, alice):
    with pytest.raises(ShapeValidationError) as excinfo:
        save(task, alice, {"boxes": "many", "extra": 1})
    errors = errors_of(excinfo)
    assert "boxes" in errors and "extra" in errors
    assert not Box.objects.exists() and not KeypointInstance.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_saves_from_the_same_version_make_one_version_and_one_conflict(
    project, alice
):
    task = image_task(project, write_file=False, lease_user=alice)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def attempt(x: int) -> None:
        try:
            barrier.wait()
            save(task, alice, {"boxes": [box(x=x)]})
            outcomes.append("saved")
        except VersionConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(x,)) for x in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    assert Annotation.objects.filter(task=task).count() == 1


# -- the draft endpoint ------------------------------------------------------------------


def api(user=None):
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_the_draft_endpoint_saves_and_returns_the_latest_version(task, alice):
    url = f"/api/tasks/{task.pk}/annotation/"
    response = api(alice).put(
        url, {"base_version": None, "payload": {"boxes": [box()]}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    latest = api(alice).get(url).json()
    assert latest["version"] == 1 and latest["payload"]["boxes"][0]["w"] == 100


def test_the_draft_endpoint_answers_400_with_field_errors(task, alice):
    url = f"/api/tasks/{task.pk}/annotation/"
    response = api(alice).put(
        url, {"base_version": None, "payload": {"boxes": [box(w=-1)]}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_shapes"
    assert "boxes[0].w" in response.json()["errors"]


def test_the_draft_endpoint_answers_409_with_the_latest_version(task, alice):
    url = f"/api/tasks/{task.pk}/annotation/"
    api(alice).put(url, {"base_version": None, "payload": {"boxes": [box()]}}, format="json")
    response = api(alice).put(url, {"base_version": None, "payload": {"boxes": []}}, format="json")
    assert response.status_code == 409
    assert response.json()["latest_version"] == 1
    assert response.json()["code"] == "version_conflict"


def test_an_expired_session_gets_401_not_a_login_page(task):
    response = api().put(f"/api/tasks/{task.pk}/annotation/", {"payload": {}}, format="json")
    assert response.status_code == 401


def test_another_annotator_cannot_save_someone_elses_task(task, bob):
    response = api(bob).put(
        f"/api/tasks/{task.pk}/annotation/",
        {"base_version": None, "payload": {"boxes": [box()]}},
        format="json",
    )
    assert response.status_code in (403, 404)
    assert not Annotation.objects.filter(task=task).exists()
