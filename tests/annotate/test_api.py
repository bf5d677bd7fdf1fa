"""The REST API: projects, classes, budget, assets, frames, tasks, annotations, tokens, schema.

Access across roles and projects is covered cell by cell in test_permissions.py; here each
endpoint's behaviour, validation and query counts.
"""

from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Asset, Budget, LabelClass, Membership, Project
from annotate.roles import GROUP_PROJECT_MANAGER
from annotate.schema import skeleton_preset
from tests.annotate.api_helpers import make_annotation, make_asset, make_frames, make_task
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db
XSS = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The named users are made per test; the default hasher would spend most of the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# Projects


def test_member_lists_only_their_projects_with_role_and_task_counts(project, other_project, alice):
    make_task(project, state="pending")
    make_task(project, state="accepted")
    response = client_for(alice).get("/api/projects/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == project.id
    assert row["role"] == "annotator"
    assert (row["tasks_pending"], row["tasks_done"]) == (1, 1)


def test_project_list_does_not_query_per_project(db, django_assert_max_num_queries):
    from tests.conftest import make_project

    pat = make_user("pat", group=GROUP_PROJECT_MANAGER, staff=True)
    for i in range(8):
        p = make_project(f"P{i}")
        Membership.objects.create(project=p, user=pat, role="manager")
        make_task(p, state="submitted")
    client = client_for(pat)
    with django_assert_max_num_queries(8):
        response = client.get("/api/projects/")
    assert response.json()["count"] == 8


def test_project_manager_creates_a_project_and_becomes_its_manager_with_a_budget(pat):
    response = client_for(pat).post(
        "/api/projects/",
        {"name": "Cyclists", "skeleton": skeleton_preset("coco17"), "keypoints_enabled": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = Project.objects.get(pk=response.json()["id"])
    assert created.created_by == pat
    assert Membership.objects.get(project=created, user=pat).role == "manager"
    assert Budget.objects.filter(project=created).exists()
    assert response.json()["role"] == "manager"


def test_annotator_cannot_create_a_project(alice):
    response = client_for(alice).post("/api/projects/", {"name": "Mine"}, format="json")
    assert response.status_code == 403
    assert not Project.objects.filter(name="Mine").exists()


def test_bad_skeleton_is_a_field_level_400_and_nothing_is_made(pat):
    response = client_for(pat).post(
        "/api/projects/",
        {"name": "Broken", "skeleton": {"keypoints": ["a", "a"], "edges": [["a", "zz"]]}},
        format="json",
    )
    assert response.status_code == 400
    assert "skeleton" in response.json()
    assert not Project.objects.filter(name="Broken").exists()


def test_keypoints_without_a_skeleton_are_refused(project, pat):
    response = client_for(pat).patch(
        f"/api/projects/{project.id}/", {"skeleton": {}, "keypoints_enabled": True}, format="json"
    )
    assert response.status_code == 400
    assert "skeleton" in response.json()


def test_manager_changes_name_stride_and_toggles(project, pat):
    response = client_for(pat).patch(
        f"/api/projects/{project.id}/",
        {"name": "Renamed", "frame_stride": 3, "tracks_enabled": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    project.refresh_from_db()
    assert (project.name, project.frame_stride, project.tracks_enabled) == ("Renamed", 3, False)


def test_a_zero_stride_is_a_field_level_400(project, pat):
    response = client_for(pat).patch(
        f"/api/projects/{project.id}/", {"frame_stride": 0}, format="json"
    )
    assert response.status_code == 400
    assert "frame_stride" in response.json()


def test_manager_applies_the_coco_preset_through_the_api(project, pat):
    response = client_for(pat).patch(
        f"/api/projects/{project.id}/", {"skeleton": skeleton_preset("coco17")}, format="json"
    )
    assert response.status_code == 200
    project.refresh_from_db()
    assert len(project.keypoint_names) == 17


# Label classes


def test_members_list_the_classes_of_their_project(project, alice):
    response = client_for(alice).get(f"/api/projects/{project.id}/classes/")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()] == ["person", "bicycle"]


def test_manager_adds_a_class_and_a_duplicate_name_is_a_field_error(project, pat):
    client = client_for(pat)
    url = f"/api/projects/{project.id}/classes/"
    created = client.post(url, {"name": "dog", "color": "#123456", "hotkey": "g"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["project"] == project.id
    duplicate = client.post(url, {"name": "dog"}, format="json")
    assert duplicate.status_code == 400
    assert "name" in duplicate.json()
    taken_key = client.post(url, {"name": "cat", "hotkey": "g"}, format="json")
    assert taken_key.status_code == 400 and "hotkey" in taken_key.json()
    bad_colour = client.post(url, {"name": "cat", "color": "red"}, format="json")
    assert bad_colour.status_code == 400 and "color" in bad_colour.json()


def test_deleting_a_class_only_deactivates_it(project, pat):
    person = project.label_classes.get(name="person")
    response = client_for(pat).delete(f"/api/classes/{person.id}/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    person.refresh_from_db()
    assert LabelClass.objects.filter(pk=person.pk).exists() and not person.is_active
    active = client_for(pat).get(f"/api/projects/{project.id}/classes/?active=true").json()
    assert [c["name"] for c in active] == ["bicycle"]


def test_manager_renames_a_class(project, pat):
    person = project.label_classes.get(name="person")
    response = client_for(pat).patch(f"/api/classes/{person.id}/", {"name": "pedestrian"})
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.name == "pedestrian"


# Budget


def test_budget_shows_settings_and_derived_spend(project, pat):
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("100"), cost_per_image=Decimal("0.5")
    )
    make_task(project, state="submitted")
    make_task(project, state="accepted")
    body = client_for(pat).get(f"/api/projects/{project.id}/budget/").json()
    assert body["budget"]["money_limit"] == "100.00"
    assert Decimal(body["spent"]["label"]["money"]) == Decimal("1.0")
    assert Decimal(body["spent"]["review"]["money"]) == Decimal("0.125")
    assert body["spent"]["tasks_spent"] == 2


def test_manager_changes_the_budget_but_cannot_type_in_spent(project, pat):
    response = client_for(pat).patch(
        f"/api/projects/{project.id}/budget/",
        {"money_limit": "250.00", "spent": {"money_spent": "999"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert Budget.objects.get(project=project).money_limit == Decimal("250")
    assert Decimal(response.json()["spent"]["money_spent"]) == 0


def test_budget_shares_above_one_are_a_field_level_400(project, pat):
    response = client_for(pat).patch(
        f"/api/projects/{project.id}/budget/",
        {"label_share": "0.9", "review_share": "0.3"},
        format="json",
    )
    assert response.status_code == 400
    assert "review_share" in response.json()
    negative = client_for(pat).patch(
        f"/api/projects/{project.id}/budget/", {"cost_per_image": "-1"}, format="json"
    )
    assert negative.status_code == 400 and "cost_per_image" in negative.json()


def test_budget_update_makes_a_budget_for_a_project_without_one(project, pat):
    Budget.objects.filter(project=project).delete()
    response = client_for(pat).put(
        f"/api/projects/{project.id}/budget/", {"task_limit": 10}, format="json"
    )
    assert response.status_code == 200
    assert Budget.objects.get(project=project).task_limit == 10


# Assets and frames


def test_assets_filter_by_kind_and_state_and_show_failures(project, alice):
    make_asset(project, kind="image", state="ready")
    failed = make_asset(project, kind="image", state="failed")
    make_asset(project, kind="video", state="processing")
    client = client_for(alice)
    rows = client.get("/api/assets/", {"state": "failed"}).json()["results"]
    assert [r["id"] for r in rows] == [failed.id]
    assert rows[0]["failure_reason"] == "The file is not an image."
    assert rows[0]["state"] == "failed"
    videos = client.get("/api/assets/", {"kind": "video"}).json()["results"]
    assert [r["kind"] for r in videos] == ["video"]


def test_asset_urls_point_at_the_checked_media_views(project, alice):
    asset = make_asset(project, thumbnail="projects/1/thumbs/x.jpg")
    body = client_for(alice).get(f"/api/assets/{asset.id}/").json()
    assert body["original_url"] == f"/media/assets/{asset.id}/original/"
    assert body["thumbnail_url"] == f"/media/assets/{asset.id}/thumbnail/"
    assert "file" not in body  # the storage path is not shown


def test_asset_list_does_not_query_per_asset(project, alice, django_assert_max_num_queries):
    for _ in range(20):
        make_asset(project)
    client = client_for(alice)
    with django_assert_max_num_queries(6):
        response = client.get("/api/assets/")
    assert response.json()["count"] == 20


def test_manager_deletes_an_asset_with_its_tasks_and_tracked_shapes(project, pat, alice):
    task = make_task(project, annotator=alice)
    make_annotation(task, author=alice)
    response = client_for(pat).delete(f"/api/assets/{task.asset_id}/")
    assert response.status_code == 204
    assert not Asset.objects.filter(pk=task.asset_id).exists()
    assert not project.tasks.exists()


def test_frames_of_a_video_are_listed_in_order_with_their_image_url(project, alice):
    video = make_asset(project, kind="video")
    frames = make_frames(video, count=4)
    body = client_for(alice).get(f"/api/assets/{video.id}/frames/").json()
    assert [f["index"] for f in body["results"]] == [0, 1, 2, 3]
    assert body["results"][0]["image_url"] == f"/media/frames/{frames[0].id}/"


# Tasks and annotations


def test_tasks_filter_by_state_kind_asset_and_priority_range_in_id_order(project, rita):
    low = make_task(project, priority=0.1)
    mid = make_task(project, priority=0.5)
    high = make_task(project, priority=0.9)
    make_task(project, priority=0.7, state="accepted")
    video = make_task(project, priority=0.6, frames=5)
    client = client_for(rita)

    def ids(**params):
        return [t["id"] for t in client.get("/api/tasks/", params).json()["results"]]

    assert ids(state="pending", kind="image") == [low.id, mid.id, high.id]
    assert ids(state="pending", ordering="-id", kind="image") == [high.id, mid.id, low.id]
    assert ids(priority_min=0.4, priority_max=0.6) == [mid.id, video.id]
    assert ids(kind="video") == [video.id]
    assert ids(asset=low.asset_id) == [low.id]


def test_task_list_does_not_query_per_task(project, alice, rita, django_assert_max_num_queries):
    for _ in range(15):
        task = make_task(project, annotator=alice, state="submitted")
        make_annotation(task, author=alice)
    client = client_for(rita)
    with django_assert_max_num_queries(6):
        response = client.get("/api/tasks/")
    rows = response.json()["results"]
    assert len(rows) == 15
    assert rows[0]["annotator"] == "alice" and rows[0]["latest_version"] == 1


def test_versions_of_a_task_are_listed_newest_first(project, alice):
    task = make_task(project, annotator=alice)
    make_annotation(task, author=alice, version=1, boxes=2)
    make_annotation(task, author=alice, version=2, boxes=5)
    rows = client_for(alice).get(f"/api/tasks/{task.id}/annotations/").json()["results"]
    assert [(r["version"], r["box_count"], r["author"]) for r in rows] == [
        (2, 5, "alice"),
        (1, 2, "alice"),
    ]


def test_latest_annotation_nests_boxes_keypoints_and_tracks(project, alice):
    task = make_task(project, annotator=alice)
    make_annotation(task, author=alice, version=1)
    latest = make_annotation(task, author=alice, version=2, boxes=3)
    body = client_for(alice).get(f"/api/tasks/{task.id}/annotations/latest/").json()
    assert body["id"] == latest.id and body["version"] == 2
    assert len(body["boxes"]) == 3
    assert body["keypoints"][0]["points"]["left_shoulder"] == [1, 2, 2]
    assert [t["number"] for t in body["tracks"]] == [1]


def test_a_task_without_versions_has_no_latest_annotation(project, alice):
    task = make_task(project, annotator=alice)
    assert client_for(alice).get(f"/api/tasks/{task.id}/annotations/latest/").status_code == 404


def test_annotation_detail_does_not_query_per_shape(project, alice, django_assert_max_num_queries):
    task = make_task(project, annotator=alice)
    annotation = make_annotation(task, author=alice, boxes=40)
    client = client_for(alice)
    with django_assert_max_num_queries(10):
        body = client.get(f"/api/annotations/{annotation.id}/").json()
    assert len(body["boxes"]) == 40


# Authentication


@pytest.fixture
def clear_throttle():
    cache.clear()
    yield
    cache.clear()


def test_a_script_trades_its_password_for_a_token_and_uses_it(alice, clear_throttle):
    client = APIClient()
    response = client.post("/api/token/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=alice).key == key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/projects/").status_code == 200


def test_a_wrong_password_gets_no_token(alice, clear_throttle):
    response = APIClient().post("/api/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_token_requests_are_rate_limited(alice, clear_throttle):
    client = APIClient()
    codes = [
        client.post("/api/token/", {"username": "alice", "password": "nope"}).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [400] * 10
    assert codes[10] == 429


def test_anonymous_requests_are_refused_with_401(project):
    answer = APIClient().get("/api/projects/")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_a_401_not_a_403(project):
    client = APIClient(HTTP_AUTHORIZATION="Token not-a-real-token")
    answer = client.get("/api/projects/")
    assert answer.status_code == 401
    assert "invalid token" in answer.json()["detail"].lower()


def test_session_writes_need_the_csrf_token(project, pat):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(pat)
    refused = client.patch(f"/api/projects/{project.id}/", {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    token = "k" * 32  # any 32-character secret, as the csrftoken cookie holds
    client.cookies["csrftoken"] = token
    accepted = client.patch(
        f"/api/projects/{project.id}/", {"name": "x"}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 200


# Schema, docs and escaping


def test_the_openapi_schema_is_served_to_a_logged_in_user(alice):
    response = client_for(alice).get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/projects/", "/api/assets/{id}/", "/api/tasks/", "/api/token/"):
        assert path in text


def test_the_schema_generates_without_warnings_or_errors(alice):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator().get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    assert not problems, "\n".join(problems)


def test_the_api_docs_page_is_served(alice):
    assert client_for(alice).get("/api/docs/").status_code == 200


def test_user_text_is_escaped_in_the_browsable_api_and_docs(project, pat):
    Project.objects.filter(pk=project.pk).update(name=XSS, description=XSS)
    LabelClass.objects.filter(project=project, name="person").update(name=XSS)
    asset = make_asset(project, original_name=f"{XSS}.jpg")
    client = client_for(pat)
    pages = [
        client.get(f"/api/projects/{project.id}/", HTTP_ACCEPT="text/html"),
        client.get(f"/api/projects/{project.id}/classes/", HTTP_ACCEPT="text/html"),
        client.get(f"/api/assets/{asset.id}/", HTTP_ACCEPT="text/html"),
        client.get("/api/docs/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert XSS not in page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0].content.decode()


def test_frame_and_version_lists_do_not_query_per_row(
    project, alice, django_assert_max_num_queries
):
    video = make_asset(project, kind="video")
    make_frames(video, count=30)
    task = make_task(project, annotator=alice, asset=video, frames=30)
    for version in range(1, 13):
        make_annotation(task, author=alice, version=version, boxes=3)
    client = client_for(alice)
    with django_assert_max_num_queries(6):
        frames = client.get(f"/api/assets/{video.id}/frames/").json()
    with django_assert_max_num_queries(7):
        versions = client.get(f"/api/tasks/{task.id}/annotations/").json()
    assert frames["count"] == 30 and versions["count"] == 12


@pytest.mark.parametrize("who", ["alice", "rita", "eve", "pat"])
def test_browsable_api_pages_open_for_every_role(request, project, who):
    """A regression: the class list crashed while building the POST form for a non-manager."""
    user = request.getfixturevalue(who)
    asset = make_asset(project)
    client = client_for(user)
    for url in (
        "/api/projects/",
        f"/api/projects/{project.id}/",
        f"/api/projects/{project.id}/classes/",
        f"/api/classes/{project.label_classes.first().id}/",
        "/api/assets/",
        f"/api/assets/{asset.id}/",
        "/api/tasks/",
    ):
        assert client.get(url, HTTP_ACCEPT="text/html").status_code == 200, url
    budget = client.get(f"/api/projects/{project.id}/budget/", HTTP_ACCEPT="text/html")
    # Members know their project has a budget; only managers and ML engineers may read it.
    assert budget.status_code == (200 if who in ("pat", "eve") else 403)
