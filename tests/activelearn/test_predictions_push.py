"""Prediction push: rows by asset id, external key or file name, as a JSON list or streamed
JSON Lines; stored once per (task, version) however often they are pushed; bad rows come
back as errors while the good ones are stored; a push to the active version rescores (what
a push to another version does: test_pushed_predictions_order_the_queue.py)."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from rest_framework.test import APIClient

from activelearn.models import ModelVersion, Prediction, ScoringRun
from activelearn.predictions.push import predictions_push
from annotate.models import AnnotationTask, Asset

pytestmark = pytest.mark.django_db


def make_assets(project, count: int = 3) -> list[Asset]:
    assets = []
    for number in range(count):
        asset = Asset.objects.create(
            project=project,
            kind="image",
            file=f"projects/{project.pk}/assets/p{number}.jpg",
            original_name=f"frame_{number:03}.jpg",
            external_key=f"cam1/{number:03}",
            sha256=uuid.uuid4().hex * 2,
            content_type="image/jpeg",
            width=640,
            height=480,
            state="ready",
        )
        AnnotationTask.objects.create(project=project, asset=asset, kind="image")
        assets.append(asset)
    return assets


def stored(version_name: str = "v1") -> dict[int, dict]:
    return {
        p.task.asset_id: p.data
        for p in Prediction.objects.filter(model_version__name=version_name).select_related("task")
    }


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_rows_by_id_external_key_and_file_name_are_stored(project, eve):
    first, second, third = make_assets(project)
    rows = [
        {"asset": first.pk, "model_version": "v1", "probs": [0.7, 0.3]},
        {"external_key": "cam1/001", "model_version": "v1", "score": 0.42},
        {"file_name": "frame_002.jpg", "model_version": "v1", "embedding": [0.1, 0.2, 0.3]},
    ]
    result = predictions_push(project=project, rows=rows, user=eve)
    assert (result.stored, result.error_count) == (3, 0)
    assert stored() == {
        first.pk: {"probs": [0.7, 0.3]},
        second.pk: {"score": 0.42},
        third.pk: {"embedding": [0.1, 0.2, 0.3]},
    }
    version = ModelVersion.objects.get(name="v1")
    assert (version.kind, version.uploaded_by) == (ModelVersion.Kind.PUSHED, eve)


def test_boxes_and_keypoints_are_stored_with_class_probabilities_and_confidences(project, eve):
    (asset,) = make_assets(project, 1)
    name = project.keypoint_names[0]
    row = {
        "asset": asset.pk,
        "model_version": "det",
        "boxes": [{"x": 10, "y": 20, "w": 100, "h": 200, "score": 0.8, "label": "person"}],
        "keypoints": [{"label": "person", "score": 0.9, "points": {name: [50, 60, 0.75]}}],
    }
    result = predictions_push(project=project, rows=[row], user=eve)
    assert result.error_count == 0
    data = stored("det")[asset.pk]
    assert data["boxes"][0]["class_probs"] == [0.8, pytest.approx(0.2)]
    assert data["keypoints"][0]["confidences"] == {name: 0.75}
    assert ModelVersion.objects.get(name="det").task_type == ModelVersion.TaskType.KEYPOINTS


def test_pushing_the_same_rows_twice_leaves_one_prediction_each_with_the_latest_data(project, eve):
    assets = make_assets(project)
    rows = [{"asset": a.pk, "model_version": "v1", "probs": [0.5, 0.5]} for a in assets]
    predictions_push(project=project, rows=rows, user=eve)
    rows[0]["probs"] = [0.9, 0.1]
    predictions_push(project=project, rows=rows, user=eve)
    assert Prediction.objects.count() == 3
    assert stored()[assets[0].pk] == {"probs": [0.9, 0.1]}


def test_bad_rows_come_back_as_errors_while_good_rows_are_stored(project, eve, other_project):
    good, other = make_assets(project, 2)
    (foreign,) = make_assets(other_project, 1)
    lines = [
        json.dumps({"asset": good.pk, "model_version": "v1", "probs": [0.6, 0.4]}),
        json.dumps({"asset": 999999, "model_version": "v1", "probs": [0.6, 0.4]}),
        json.dumps({"asset": foreign.pk, "model_version": "v1", "probs": [0.6, 0.4]}),
        f'{{"asset": {other.pk}, "model_version": "v1", "probs": [NaN, 0.4]}}',
        json.dumps({"asset": other.pk, "model_version": "v1", "probs": [0.2, 0.3, 0.5]}),
        json.dumps(
            {
                "asset": other.pk,
                "model_version": "v1",
                "boxes": [{"x": 600, "y": 0, "w": 100, "h": 10, "label": "person"}],
            }
        ),
        json.dumps(
            {
                "asset": other.pk,
                "model_version": "v1",
                "keypoints": [{"points": {"tail": [1, 2, 0.5]}}],
            }
        ),
        "not json",
    ]
    result = predictions_push(project=project, rows=lines, user=eve)
    assert result.stored == 1
    assert stored() == {good.pk: {"probs": [0.6, 0.4]}}
    messages = {error["row"]: error["error"] for error in result.errors}
    assert sorted(messages) == [2, 3, 4, 5, 6, 7, 8]
    assert "no asset 999999" in messages[2]
    assert "no asset" in messages[3]
    assert "NaN" in messages[4]
    assert "3 values; the project has 2 classes" in messages[5]
    assert "outside the 640x480 image" in messages[6]
    assert "unknown keypoint name 'tail'" in messages[7]
    assert "not JSON" in messages[8]


def test_json_lines_stream_through_the_endpoint_in_batches(project, eve):
    assets = make_assets(project, 5)
    body = "\n".join(
        json.dumps({"external_key": a.external_key, "probs": [0.25, 0.75]}) for a in assets
    )
    response = client_for(eve).post(
        f"/api/projects/{project.pk}/predictions/?model_version=stream",
        data=body.encode(),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 5
    assert len(stored("stream")) == 5


def test_a_json_list_is_accepted_by_the_endpoint(project, eve):
    (asset,) = make_assets(project, 1)
    response = client_for(eve).post(
        f"/api/projects/{project.pk}/predictions/",
        data=[{"file_name": "frame_000.jpg", "model_version": "v1", "score": 1.5}],
        format="json",
    )
    assert response.json()["stored"] == 1
    assert stored() == {asset.pk: {"score": 1.5}}


def test_a_push_to_the_active_version_starts_rescoring(project, eve):
    (asset,) = make_assets(project, 1)
    ModelVersion.objects.create(
        project=project, name="live", kind="pushed", task_type="classification", is_active=True
    )
    result = predictions_push(
        project=project, rows=[{"asset": asset.pk, "probs": [0.5, 0.5]}], model_version_name="live"
    )
    run = ScoringRun.objects.get(pk=result.scoring_run)
    assert run.reason == ScoringRun.Reason.PUSH


def test_a_push_to_an_inactive_version_does_not_rescore(project, eve):
    (asset,) = make_assets(project, 1)
    ModelVersion.objects.create(
        project=project, name="live", kind="pushed", task_type="classification", is_active=True
    )
    result = predictions_push(
        project=project, rows=[{"asset": asset.pk, "probs": [0.5, 0.5]}], model_version_name="x"
    )
    assert result.scoring_run is None
    assert not ScoringRun.objects.exists()


def test_annotators_cannot_push_and_other_projects_do_not_exist(project, alice, carol):
    url = f"/api/projects/{project.pk}/predictions/"
    assert client_for(alice).post(url, data=[], format="json").status_code == 403
    assert client_for(carol).post(url, data=[], format="json").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_stream_of_many_batches_outside_a_transaction_is_stored_completely(project, eve):
    # Outside a transaction the writes run on a second connection, a batch behind the checks.
    assets = make_assets(project, 30)
    lines = [
        json.dumps({"asset": a.pk, "model_version": "v1", "probs": [0.1, 0.9]}) for a in assets
    ] + ['{"asset": 0, "model_version": "v1", "probs": [0.1, 0.9]}']
    result = predictions_push(project=project, rows=iter(lines), user=eve, batch_size=4)
    assert (result.stored, result.error_count) == (30, 1)
    assert Prediction.objects.filter(model_version__name="v1").count() == 30
    again = predictions_push(project=project, rows=iter(lines), user=eve, batch_size=4)
    assert again.stored == 30
    assert Prediction.objects.count() == 30


def test_a_chunked_json_lines_upload_without_a_length_is_read_to_the_end(project, eve):
    assets = make_assets(project, 3)
    body = "".join(
        json.dumps({"asset": a.pk, "model_version": "v1", "score": 0.5}) + "\n" for a in assets
    )
    response = client_for(eve).post(
        f"/api/projects/{project.pk}/predictions/",
        data=body.encode(),
        content_type="application/x-ndjson",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        # A server's input stream (as granian's): reads past the end give b"", where the
        # test client's FakePayload would refuse a bounded read.
        **{"wsgi.input": io.BytesIO(body.encode())},
    )
    assert response.json()["stored"] == 3


def test_a_push_whose_every_row_is_invalid_answers_400_with_each_rows_reason(project, eve):
    """It answered 200 with stored: 0, which a client's script reads as success."""
    (asset,) = make_assets(project, 1)
    rows = [
        {"asset": asset.pk, "model_version": "v1", "probs": [0.6, 0.4, 0.1]},
        {"asset": 999999, "model_version": "v1", "probs": [0.6, 0.4]},
    ]
    response = client_for(eve).post(f"/api/projects/{project.pk}/predictions/", rows, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["stored"] == 0 and body["error_count"] == 2
    assert [error["row"] for error in body["errors"]] == [1, 2]
    assert stored() == {}


def make_video(project, *, segments: int = 2, length: int = 5) -> Asset:
    asset = Asset.objects.create(
        project=project,
        kind="video",
        file=f"projects/{project.pk}/assets/clip.mp4",
        original_name="clip.mp4",
        sha256=uuid.uuid4().hex * 2,
        content_type="video/mp4",
        width=640,
        height=360,
        state="ready",
    )
    for segment in range(segments):
        start = segment * length
        AnnotationTask.objects.create(
            project=project,
            asset=asset,
            kind="video",
            frame_start=start,
            frame_end=start + length - 1,
            frame_count=length,
        )
    return asset


def test_a_videos_frames_go_to_the_segments_holding_them_with_their_track_ids(project, eve):
    video = make_video(project)
    box = {"x": 10, "y": 10, "w": 50, "h": 80, "label": "person", "score": 0.9, "track": 4}
    rows = [
        # One row per frame, or several frames in a row: the push gathers them per segment.
        {"asset": video.pk, "model_version": "det", "frames": [{"frame": 1, "boxes": [box]}]},
        {
            "asset": video.pk,
            "model_version": "det",
            "frames": [{"frame": 0, "boxes": [box]}, {"frame": 7, "boxes": [box]}],
        },
    ]
    result = predictions_push(project=project, rows=rows, user=eve, batch_size=1)
    assert result.error_count == 0 and result.stored == 2
    by_segment = {
        p.task.frame_start: p.data
        for p in Prediction.objects.filter(model_version__name="det").select_related("task")
    }
    assert [u["index"] for u in by_segment[0]["frames"]] == [0, 1]
    assert [u["index"] for u in by_segment[5]["frames"]] == [7]
    assert by_segment[5]["frames"][0]["boxes"][0]["track"] == 4
    assert ModelVersion.objects.get(name="det").task_type == "detection"


BAD_TRACK = {"x": 1, "y": 1, "w": 5, "h": 5, "label": "person"}


def test_bad_video_rows_say_which_frame_is_wrong(project, eve):
    video = make_video(project)
    (image,) = make_assets(project, 1)
    rows = [
        {"asset": video.pk, "model_version": "v1", "frames": [{"boxes": []}]},
        {"asset": video.pk, "model_version": "v1", "frames": [{"frame": 2, "boxes": [{"x": 1}]}]},
        {"asset": image.pk, "model_version": "v1", "frames": [{"frame": 0, "probs": [1, 0]}]},
        {
            "asset": video.pk,
            "model_version": "v1",
            "frames": [{"frame": 3, "boxes": [{**BAD_TRACK, "track": 0}]}],
        },
    ]
    result = predictions_push(project=project, rows=rows, user=eve)
    errors = [e["error"] for e in result.errors]
    assert errors[0].startswith("frames[0] needs frame")
    assert errors[1] == "frame 2: box 0 y must be a number"
    assert errors[2] == "frames are for a video; this asset is an image"
    assert errors[3] == "frame 3: box 0 track must be a whole number from 1"


def test_text_with_backslashes_quotes_and_tabs_is_stored_as_pushed(project, eve):
    """The batch goes to PostgreSQL through COPY, whose text format gives the backslash a
    meaning of its own: a class name with backslashes, quotes and a tab must survive it."""
    name = 'back\\slash "quoted"\tand tab, ünïcode'
    project.label_classes.create(name=name, color="#123456", order=5)
    (asset,) = make_assets(project, 1)
    classes = list(project.label_classes.order_by("order", "id").values_list("name", flat=True))
    probs = [1.0 if c == name else 0.0 for c in classes]
    box = {"x": 1, "y": 2, "w": 3, "h": 4, "label": name, "score": 1.0}
    row = {"asset": asset.pk, "model_version": "v1", "boxes": [box], "probs": probs}
    result = predictions_push(project=project, rows=[json.dumps(row)], user=eve)
    assert (result.stored, result.error_count) == (1, 0)
    data = stored()[asset.pk]
    assert data["boxes"][0]["label"] == name and data["probs"] == probs


def test_json_lines_split_across_read_blocks_are_joined_whole():
    from activelearn.predictions.lines import JsonLinesBody, row_batches

    body = io.BytesIO(b'{"a": 1}\n\n{"b": "long line"}\n{"c": 3}\n[1]\n{bad')
    blocks = JsonLinesBody(iter(lambda: body.read(5), b""))
    rows = [entry for batch in row_batches(blocks, 2) for entry in batch]
    assert rows[:3] == [(1, {"a": 1}, None), (3, {"b": "long line"}, None), (4, {"c": 3}, None)]
    assert rows[3] == (5, None, "a row must be a JSON object")
    assert rows[4][0] == 6 and rows[4][2].startswith("not JSON: Expecting property name")


def test_a_nan_in_a_json_lines_row_is_refused_with_its_reason(project, eve):
    (asset,) = make_assets(project, 1)
    lines = [f'{{"asset": {asset.pk}, "model_version": "v1", "probs": [NaN, 0.5]}}', "{bad"]
    result = predictions_push(project=project, rows=lines, user=eve)
    assert result.stored == 0
    assert [e["error"][:22] for e in result.errors] == [
        "NaN is not a number; N",
        "not JSON: Expecting pr",
    ]


def test_an_asset_given_again_in_a_later_batch_of_a_new_version_keeps_its_latest_row(project, eve):
    """A new version's rows are copied straight into the table; the same task again later in
    the push is upserted instead of breaking the unique constraint."""
    first, second = make_assets(project, 2)
    lines = [
        json.dumps({"asset": first.pk, "model_version": "new", "probs": [0.1, 0.9]}),
        json.dumps({"asset": second.pk, "model_version": "new", "probs": [0.2, 0.8]}),
        json.dumps({"asset": first.pk, "model_version": "new", "probs": [0.3, 0.7]}),
    ]
    result = predictions_push(project=project, rows=lines, user=eve, batch_size=2)
    assert (result.stored, result.error_count) == (3, 0)
    assert stored("new") == {first.pk: {"probs": [0.3, 0.7]}, second.pk: {"probs": [0.2, 0.8]}}


def test_a_straight_copy_that_meets_a_row_written_meanwhile_upserts_it(project, eve):
    """Another push may write the same task and version between the check that the version
    had no predictions and the copy: the batch is upserted rather than refused."""
    from django.db import transaction

    from activelearn.predictions.push import predictions_write

    first, second = make_assets(project, 2)
    version = ModelVersion.objects.create(
        project=project, name="racing", kind="pushed", task_type="classification"
    )
    task_of = {a.pk: AnnotationTask.objects.get(asset=a).pk for a in (first, second)}
    Prediction.objects.create(task_id=task_of[first.pk], model_version=version, data={"x": 1})
    rows = {
        (task_of[first.pk], version.pk): {"probs": [0.5, 0.5]},
        (task_of[second.pk], version.pk): {"probs": [0.4, 0.6]},
    }
    with transaction.atomic():
        assert predictions_write(rows=rows, fresh=True) == 2
    assert stored("racing") == {first.pk: {"probs": [0.5, 0.5]}, second.pk: {"probs": [0.4, 0.6]}}


def test_keys_and_names_postgresql_cannot_hold_are_refused_row_by_row(project, eve):
    """A NUL in an external key or version name, an id past bigint: each row is refused
    with its reason (they answered 500)."""
    (asset,) = make_assets(project, 1)
    rows = [
        {"external_key": "cam\x001", "model_version": "v1", "probs": [0.5, 0.5]},
        {"asset": 2**70, "model_version": "v1", "probs": [0.5, 0.5]},
        {"asset": asset.pk, "model_version": "v\x001", "probs": [0.5, 0.5]},
        {"asset": asset.pk, "model_version": "v1", "probs": [0.5, 0.5]},
    ]
    result = predictions_push(project=project, rows=rows, user=eve)
    assert (result.stored, result.error_count) == (1, 3)
    assert [e["error"] for e in result.errors] == [
        "no asset 'cam\\x001' with tasks in this project",
        f"no asset {2**70} with tasks in this project",
        "A model version name cannot hold the NUL character.",
    ]


# One rule for where a shape may lie (annotate.image_bounds), as the editor's saves and imports:
# within 0.5 px of the image it is clipped to the edge, further out it is refused; keypoints too.


def test_a_pushed_box_follows_the_editors_edge_rule_clipped_within_it_refused_past_it():
    from activelearn.predictions.rows import RowContext, RowError, row_data

    ctx = RowContext(classes=["person"], keypoints={"nose"})
    near = row_data({"boxes": [{"x": -0.4, "y": 10, "w": 50.3, "h": 20, "label": "person"}]},
                    (50, 100), ctx)  # fmt: skip
    box = near["boxes"][0]
    assert (box["x"], round(box["w"], 6)) == (0.0, 49.9)  # 50.3 - 0.4 wide, clipped to x = 0
    with pytest.raises(RowError, match=r"outside the 50x100 image: it must lie within"):
        row_data({"boxes": [{"x": -0.8, "y": 10, "w": 20, "h": 20, "label": "person"}]},
                 (50, 100), ctx)  # fmt: skip


def test_a_pushed_keypoint_outside_the_image_is_refused_and_one_on_the_edge_clipped():
    from activelearn.predictions.rows import RowContext, RowError, row_data

    ctx = RowContext(classes=["person"], keypoints={"nose"})
    edge = row_data({"keypoints": [{"points": {"nose": [50.3, -0.2, 0.9]}}]}, (50, 100), ctx)
    assert edge["keypoints"][0]["points"]["nose"] == [50.0, 0.0, 0.9]
    with pytest.raises(RowError, match=r"keypoint 'nose' of instance 0 lies outside"):
        row_data({"keypoints": [{"points": {"nose": [1e6, 5, 0.9]}}]}, (50, 100), ctx)
