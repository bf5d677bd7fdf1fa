"""k annotators per task through the API: each keeps their own chain of versions, the
consensus forms after the last submit (its own version kind, the task's newest), its
agreement is stored, and exports take the merged result."""

from __future__ import annotations

import io
import json

import pytest

from activelearn.models import LearningSettings
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write
from annotate.models import Annotation, AnnotatorAgreement, Frame, TaskAgreement

from .api_helpers import make_task
from .queue_fixtures import client_for, make_annotators, make_tasks

pytestmark = pytest.mark.django_db


def box(x, y=20, w=100, h=50, label="person", **extra):
    return {"frame": None, "label": label, "x": x, "y": y, "w": w, "h": h, **extra}


def claim(user, project) -> int:
    answer = client_for(user).post(f"/api/projects/{project.pk}/tasks/next/", format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()["task"]["id"]


def save(user, task_id, base, payload):
    answer = client_for(user).put(
        f"/api/tasks/{task_id}/annotation/",
        {"base_version": base, "payload": payload},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["version"]


def submit(user, task_id, base, payload):
    answer = client_for(user).post(
        f"/api/tasks/{task_id}/submit/", {"base_version": base, "payload": payload}, format="json"
    )
    assert answer.status_code == 200, answer.content
    return answer


def k_holders(project, k):
    LearningSettings.objects.create(project=project, annotators_per_task=k)
    (task,) = make_tasks(project, 1)
    users = make_annotators(project, k)
    for user in users:
        assert claim(user, project) == task.pk
    return task, users


def test_k2_chains_stay_apart_and_the_consensus_forms_after_the_last_submit(project, rita):
    task, (ann, ben) = k_holders(project, 2)
    a1 = save(ann, task.pk, None, {"boxes": [box(10)]})
    b1 = save(ben, task.pk, None, {"boxes": [box(14), box(400, label="bicycle")]})
    a2 = save(ann, task.pk, a1, {"boxes": [box(12)]})
    # Each reads their own chain back, and a stale base of their own chain is still a 409.
    assert client_for(ann).get(f"/api/tasks/{task.pk}/annotation/").json()["version"] == a2
    assert client_for(ben).get(f"/api/tasks/{task.pk}/annotation/").json()["version"] == b1
    submit(ann, task.pk, a2, {"boxes": [box(12)]})
    task.refresh_from_db()
    assert task.state == "in_progress"
    assert not Annotation.objects.filter(task=task, kind="consensus").exists()
    assert not TaskAgreement.objects.filter(task=task).exists()

    submit(ben, task.pk, b1, {"boxes": [box(14), box(400, label="bicycle")]})
    task.refresh_from_db()
    assert task.state == "submitted"
    merged = Annotation.objects.get(task=task, kind="consensus")
    assert merged.author is None
    assert merged.version == task.annotations.order_by("-version").first().version
    boxes = sorted(merged.boxes.values_list("label_class__name", "x", "w"), key=lambda b: b[1])
    # The matched pair averaged; the bicycle one of two drew is kept (half, the default).
    assert boxes == [("person", 13.0, 100.0), ("bicycle", 400.0, 100.0)]
    # Each annotator's chain is intact: two versions for ann, one plus the submission for ben.
    assert list(
        Annotation.objects.filter(task=task, author=ann).values_list("kind", flat=True)
    ) == ["submission", "draft", "draft"]
    assert Annotation.objects.filter(task=task, author=ben).count() == 2

    agreement = TaskAgreement.objects.get(task=task)
    assert agreement.consensus == merged and agreement.annotators == 2
    assert agreement.box_f1 == pytest.approx(2 / 3)  # one pair of three boxes
    assert agreement.hota is None and agreement.oks is None
    assert agreement.per_class == {"bicycle": 0.0, "person": 1.0}
    disputed = [s for s in agreement.shapes if s["disputed"]]
    assert [s["label"] for s in disputed] == ["bicycle"]
    assert disputed[0]["members"] == {ben.username: "boxes[1]"}
    rows = {r.user_id: r for r in AnnotatorAgreement.objects.filter(task=task)}
    assert rows[ann.pk].box_f1 == pytest.approx(2 / 3) and rows[ben.pk].box_f1 == 1.0

    # The reviewer sees the merged version; the review page's consensus data has both.
    payload = client_for(rita).get(f"/api/tasks/{task.pk}/payload/").json()
    assert payload["annotation"]["version"] == merged.version
    assert payload["annotation"]["kind"] == "consensus"
    consensus = client_for(rita).get(f"/api/tasks/{task.pk}/consensus/")
    assert consensus.status_code == 200, consensus.content
    body = consensus.json()
    assert [a["author"] for a in body["annotators"]] == [ann.username, ben.username]
    assert body["merged"]["version"] == merged.version
    assert body["agreement"]["box_f1"] == pytest.approx(2 / 3)
    assert body["annotators"][1]["disputed"] == ["boxes[1]"]


def test_k3_median_majority_and_quorum_and_export_takes_the_merged_result(project, rita):
    task, (a, b, c) = k_holders(project, 3)
    submit(a, task.pk, None, {"boxes": [box(10), box(500, y=300, label="bicycle")]})
    submit(b, task.pk, None, {"boxes": [box(11, label="bicycle")]})
    task.refresh_from_db()
    assert task.state == "in_progress"
    submit(c, task.pk, None, {"boxes": [box(30)]})
    task.refresh_from_db()
    assert task.state == "submitted"
    merged = Annotation.objects.get(task=task, kind="consensus")
    # Median of 10, 11, 30 and the majority class; the lone bicycle (1 of 3) is left out.
    assert list(merged.boxes.values_list("label_class__name", "x")) == [("person", 11.0)]
    agreement = TaskAgreement.objects.get(task=task)
    dropped = [s for s in agreement.shapes if not s["kept"]]
    assert [(s["label"], s["support"]) for s in dropped] == [("bicycle", pytest.approx(1 / 3))]
    assert AnnotatorAgreement.objects.filter(task=task).count() == 3

    # Accept it, then export: the merged box, not any annotator's.
    review = client_for(rita).post(
        f"/api/tasks/{task.pk}/review/", {"decision": "accept"}, format="json"
    )
    assert review.status_code == 200, review.content
    out = io.BytesIO()
    export_write(project=project, format="coco", export_filter=ExportFilter(), out=out)
    coco = json.loads(out.getvalue())
    assert [round(ann["bbox"][0]) for ann in coco["annotations"]] == [11]


def test_single_annotator_behaviour_is_unchanged(project, alice):
    (task,) = make_tasks(project, 1)
    assert claim(alice, project) == task.pk
    submit(alice, task.pk, None, {"boxes": [box(10)]})
    task.refresh_from_db()
    assert task.state == "submitted"
    assert not Annotation.objects.filter(task=task, kind="consensus").exists()
    assert not TaskAgreement.objects.exists()


def test_video_tracks_are_matched_by_identity_and_renumbered_into_one_track(project, rita):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    task = make_task(project, frames=4)
    frames = [
        Frame.objects.create(asset=task.asset, index=task.frame_start + i, timestamp=i / 25,
                             image=f"f/{i}.jpg", width=640, height=480)
        for i in range(4)
    ]  # fmt: skip
    ann, ben = make_annotators(project, 2)
    for user in (ann, ben):
        assert claim(user, project) == task.pk

    def track(number, x0):
        return {
            "tracks": [{"number": number, "label": "person"}],
            "boxes": [
                {
                    "frame": frames[0].pk,
                    "label": "person",
                    "x": x0,
                    "y": 10,
                    "w": 50,
                    "h": 50,
                    "track": number,
                },  # fmt: skip
                {
                    "frame": frames[3].pk,
                    "label": "person",
                    "x": x0 + 30,
                    "y": 10,
                    "w": 50,
                    "h": 50,
                    "track": number,
                },  # fmt: skip
            ],
        }

    submit(ann, task.pk, None, track(1, 0))
    submit(ben, task.pk, None, track(7, 2))
    merged = Annotation.objects.get(task=task, kind="consensus")
    rows = list(merged.boxes.order_by("frame__index").values_list("track__number", "x", "outside"))
    # One track, numbered as its earliest annotator numbered it, on all four frames.
    assert rows == [(1, 1.0, False), (1, 11.0, False), (1, 21.0, False), (1, 31.0, False)]
    agreement = TaskAgreement.objects.get(task=task)
    assert agreement.idsw == 0 and agreement.idf1 == 1.0 and agreement.hota > 0.8
    assert agreement.tracks[0]["members"] == {ann.username: 1, ben.username: 7}


def test_keypoints_merge_per_joint_and_oks_uses_the_skeletons_sigmas(project):
    names = project.keypoint_names
    project.skeleton = {**project.skeleton, "sigmas": dict.fromkeys(names, 0.1)}
    project.save(update_fields=["skeleton"])
    task, (ann, ben) = k_holders(project, 2)

    def skeleton(dx):
        points = {name: [100 + 10 * i + dx, 100 + 5 * i, 2] for i, name in enumerate(names)}
        return {"keypoints": [{"frame": None, "label": "person", "points": points}]}

    submit(ann, task.pk, None, skeleton(0))
    submit(ben, task.pk, None, skeleton(2))
    merged = Annotation.objects.get(task=task, kind="consensus")
    (instance,) = merged.keypoint_instances.all()
    assert instance.points[names[0]] == [101.0, 100.0, 2]
    agreement = TaskAgreement.objects.get(task=task)
    assert agreement.keypoint_f1 == 1.0
    assert 0.5 < agreement.oks < 1.0
    assert set(agreement.per_joint) == set(names)  # jsonb keeps no key order
    # Tighter sigmas give a lower OKS for the same two pixels.
    loose = agreement.oks
    project.skeleton = {**project.skeleton, "sigmas": dict.fromkeys(names, 0.05)}
    project.save(update_fields=["skeleton"])
    task2, (cat, dan) = k_holders_again(project)
    submit(cat, task2.pk, None, skeleton(0))
    submit(dan, task2.pk, None, skeleton(2))
    assert TaskAgreement.objects.get(task=task2).oks < loose


def k_holders_again(project):
    (task,) = make_tasks(project, 1)
    users = make_annotators(project, 2)
    for user in users:
        assert claim(user, project) == task.pk
    return task, users


def test_project_agreement_per_annotator_class_and_joint(project, rita, eve, alice):
    task, (ann, ben) = k_holders(project, 2)
    submit(ann, task.pk, None, {"boxes": [box(10), box(300, label="bicycle")]})
    submit(ben, task.pk, None, {"boxes": [box(10)]})
    answer = client_for(eve).get(f"/api/projects/{project.pk}/agreement/")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["summary"]["tasks"] == 1
    assert data["summary"]["box_f1"] == pytest.approx(2 / 3)
    rows = {row["username"]: row for row in data["annotators"]}
    assert rows[ann.username]["box_f1"] == 1.0  # the lone bicycle is kept at half
    assert rows[ben.username]["box_f1"] == pytest.approx(2 / 3)
    classes = {row["name"]: row["box_f1"] for row in data["classes"]}
    assert classes == {"bicycle": 0.0, "person": 1.0}
    assert data["tasks"][0]["task"] == task.pk
    # An annotator (even the task's) reads neither the agreement nor the consensus.
    assert client_for(alice).get(f"/api/projects/{project.pk}/agreement/").status_code == 403
    assert client_for(ben).get(f"/api/tasks/{task.pk}/consensus/").status_code == 403
    assert client_for(rita).get(f"/api/tasks/{task.pk}/consensus/").status_code == 200


def test_consensus_of_another_project_does_not_exist_for_its_outsiders(project, carol):
    task, (ann, ben) = k_holders(project, 2)
    submit(ann, task.pk, None, {"boxes": [box(10)]})
    submit(ben, task.pk, None, {"boxes": [box(10)]})
    assert client_for(carol).get(f"/api/tasks/{task.pk}/consensus/").status_code == 404
    assert client_for(carol).get(f"/api/projects/{project.pk}/agreement/").status_code == 404


def test_a_task_without_consensus_answers_empty(project, rita):
    (task,) = make_tasks(project, 1)
    body = client_for(rita).get(f"/api/tasks/{task.pk}/consensus/").json()
    assert body["agreement"] is None and body["annotators"] == []


def test_quality_page_for_a_reviewer_not_an_annotator(project, rita, alice):
    from django.test import Client

    reviewer = Client()
    reviewer.force_login(rita)
    page = reviewer.get(f"/projects/{project.pk}/quality/")
    assert page.status_code == 200
    assert f"/api/projects/{project.pk}/agreement/" in page.content.decode()
    annotator = Client()
    annotator.force_login(alice)
    assert annotator.get(f"/projects/{project.pk}/quality/").status_code == 403
    assert b"/quality/" in reviewer.get(f"/projects/{project.pk}/").content
