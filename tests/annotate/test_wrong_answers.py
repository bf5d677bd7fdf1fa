"""Requests that used to get a wrong answer get a 400 naming the problem: unknown keypoint
names (not a 409 "schema changed"), unknown filters and orderings (not silently ignored),
ids beyond the database's integers and JSON bodies that are not objects (not a 500)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .api_helpers import make_task

pytestmark = pytest.mark.django_db

BIG = 2**63


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_an_unknown_keypoint_name_in_a_save_is_a_400_with_the_field_path(project, alice):
    task = make_task(project, annotator=alice)
    payload = {"keypoints": [{"label": "person", "points": {"tail": [1, 1, 2]}}]}

    response = client_for(alice).put(
        f"/api/tasks/{task.pk}/annotation/",
        {"base_version": None, "payload": payload},
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "keypoints[0].points.tail" in errors
    assert (
        "'tail' is not a keypoint of this project's skeleton"
        in errors["keypoints[0].points.tail"][0]
    )


@pytest.mark.parametrize(
    "ordering", ["nonsense", "-asset__original_name", "priority,bogus", "-priority", "created_at"]
)
def test_ordering_on_an_unknown_or_related_field_is_a_400_naming_the_allowed_ones(
    project, pat, ordering
):
    make_task(project)
    response = client_for(pat).get("/api/tasks/", {"ordering": ordering})

    assert response.status_code == 400
    message = response.json()["ordering"][0]
    assert "order by id (prefix - for descending)" in message


def test_an_allowed_ordering_still_orders(project, pat):
    tasks = [make_task(project, priority=p) for p in (0.1, 0.9, 0.5)]
    response = client_for(pat).get("/api/tasks/", {"ordering": "-id"})
    assert response.status_code == 200
    assert [t["id"] for t in response.json()["results"]] == [t.pk for t in reversed(tasks)]


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/api/tasks/", "asset__project__name"),
        ("/api/tasks/", "stat"),
        ("/api/assets/", "original_name"),
        ("/api/projects/", "name"),
    ],
)
def test_filtering_on_an_unknown_or_related_field_is_a_400(project, pat, url, param):
    response = client_for(pat).get(url, {param: "x"})

    assert response.status_code == 400
    assert "Unknown query parameter; this endpoint takes" in response.json()[param][0]


def test_the_known_filters_pagination_and_extra_parameters_are_accepted(project, pat):
    client = client_for(pat)
    assert client.get("/api/tasks/", {"state": "pending"}).status_code == 200
    assert client.get("/api/assets/", {"state": "ready", "page": 1}).status_code == 200
    assert client.get(f"/api/projects/{project.pk}/classes/", {"active": "true"}).status_code == 200


def test_next_task_with_an_exclude_id_of_2_to_the_63_is_a_400(project, alice):
    response = client_for(alice).post(
        f"/api/projects/{project.pk}/tasks/next/", {"exclude": [BIG]}, format="json"
    )
    assert response.status_code == 400
    assert "exclude" in response.json()


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("body", ["null", "1", "[1, 2]"])
def test_put_or_patch_of_a_project_with_a_body_that_is_not_an_object_is_a_400(
    project, pat, method, body
):
    response = getattr(client_for(pat), method)(
        f"/api/projects/{project.pk}/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == ["Send a JSON object with the fields to change."]


def test_a_huge_base_version_with_force_is_a_400(project, alice):
    task = make_task(project, annotator=alice)
    response = client_for(alice).put(
        f"/api/tasks/{task.pk}/annotation/",
        {"base_version": BIG, "force": True, "payload": {}},
        format="json",
    )
    assert response.status_code == 400
    assert "base_version" in response.json()["errors"]


@pytest.mark.parametrize(
    "url", [f"/api/projects/{BIG}/", f"/api/tasks/?project={BIG}", f"/api/tasks/{BIG}/"]
)
def test_an_id_beyond_the_database_integers_is_not_a_500(project, pat, url):
    assert client_for(pat).get(url).status_code in (200, 400, 404)


@pytest.mark.django_db
def test_a_token_request_that_is_not_json_is_a_400_the_schema_describes(client):
    """Found by schemathesis: the parse error's {"detail": ...} broke the declared 400."""
    response = client.post("/api/token/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_save_from_a_version_never_saved_is_a_conflict_whose_latest_version_is_null(
    project, alice
):
    """Found by schemathesis: the 409's latest_version was null where the schema said an
    integer, and the message read "saved elsewhere (version None)"."""
    task = make_task(project, annotator=alice)
    response = client_for(alice).put(
        f"/api/tasks/{task.pk}/annotation/", {"base_version": 1, "payload": {}}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["latest_version"] is None
    assert "nothing was saved" in response.json()["detail"]
    assert "None" not in response.json()["detail"]
