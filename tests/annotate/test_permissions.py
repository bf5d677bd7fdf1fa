"""Permission tests GENERATED from annotate.permissions.RULES.

For every (action, role, ownership) cell of the table:
- `can()` answers what the cell says;
- every API endpoint that does the action answers 2xx when the cell allows it, 403 when the
  user may see the object but not do the action, 404 when the object does not exist for them.
And for every endpoint and every HTTP method (GET, PUT, PATCH, DELETE, POST): an object of a
project the user is not a member of is 404, never 403 or 405.

Ownership: "own" = an object the user holds or made, "other" = one of a colleague in the
same project, "foreign" = one of another project (owned by the user, even: membership rules).
Change the table and these expectations change with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework.test import APIClient

from annotate.models import (
    Annotation,
    AnnotationTask,
    Asset,
    Budget,
    LabelClass,
    Membership,
    Project,
)
from annotate.permissions import (
    ANY,
    OWN,
    ROLES,
    RULES,
    SCOPES,
    can,
    get_object_for,
    rule,
    view_action,
)
from annotate.schema import skeleton_preset
from tests.annotate.api_helpers import make_annotation, make_asset, make_task

pytestmark = pytest.mark.django_db

ROLE_USERS = {
    Membership.Role.ANNOTATOR: "alice",
    Membership.Role.REVIEWER: "rita",
    Membership.Role.MANAGER: "pat",
    Membership.Role.ML_ENGINEER: "eve",
}
OWNERSHIPS = ("own", "other", "foreign")
METHODS = ("GET", "PUT", "PATCH", "DELETE", "POST")

# What each action is about: the first part of its name -> the model it is checked on.
ACTION_MODELS = {
    "project": Project,
    "schema": Project,
    "member": Project,
    "export": Project,
    "import": Project,
    "model": Project,
    "queue": Project,
    "quality": Project,
    "budget": Budget,
    "asset": Asset,
    "task": AnnotationTask,
    "annotation": Annotation,
}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The named users are made per test; the default hasher would spend most of the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def model_of(action: str):
    return ACTION_MODELS[action.split(".")[0]]


def allowed(action: str, role: str, ownership: str) -> bool:
    if ownership == "foreign":
        return False
    level = rule(action, role)
    return level == ANY or (level == OWN and ownership == "own")


def expected_status(action: str, role: str, ownership: str, ok: int) -> int:
    if allowed(action, role, ownership):
        return ok
    if allowed(view_action(action, model_of(action)), role, ownership):
        return 403
    return 404


@pytest.fixture
def make_object(project, other_project, bob):
    """make_object(model, ownership, user) -> a fresh object of that model and ownership."""

    def build(model, ownership: str, user: User):
        home = other_project if ownership == "foreign" else project
        if model is Project:
            return home
        if model is Budget:
            return Budget.objects.get(project=home)
        if model is LabelClass:
            return home.label_classes.order_by("order").first()
        if model is Asset:
            return make_asset(home)
        owner = bob if ownership == "other" else user
        task = make_task(home, annotator=owner, state="submitted")
        annotation = make_annotation(task, author=owner)
        return annotation if model is Annotation else task

    return build


def user_for(request, role: str) -> User:
    return request.getfixturevalue(ROLE_USERS[role])


# The table itself


def test_every_action_names_a_model_the_tests_know():
    assert {action.split(".")[0] for action in RULES} <= set(ACTION_MODELS)


def test_own_is_used_only_on_models_that_have_owners():
    for action, levels in RULES.items():
        if OWN in levels:
            assert SCOPES[model_of(action)][1], f"{action}: OWN on a model without owners"


def test_every_cell_is_any_own_or_nothing():
    assert all(len(levels) == len(ROLES) for levels in RULES.values())
    assert {level for levels in RULES.values() for level in levels} <= {ANY, OWN, "-"}


# can() and get_object_for(), cell by cell

CELLS = [
    pytest.param(action, role, ownership, id=f"{action}-{role}-{ownership}")
    for action in RULES
    for role in ROLES
    for ownership in OWNERSHIPS
]


@pytest.mark.parametrize(("action", "role", "ownership"), CELLS)
def test_can_and_get_object_for_follow_the_table(request, make_object, action, role, ownership):
    """can() is the cell; get_object_for() is 404 when the object does not exist for the
    user, 403 when they see it but may not do the action."""
    user = user_for(request, role)
    obj = make_object(model_of(action), ownership, user)
    assert can(user, action, obj) is allowed(action, role, ownership)

    expected = expected_status(action, role, ownership, ok=200)
    raised = {403: PermissionDenied, 404: Http404}.get(expected)
    if raised is None:
        assert get_object_for(user, action, type(obj).objects, pk=obj.pk) == obj
    else:
        with pytest.raises(raised):
            get_object_for(user, action, type(obj).objects, pk=obj.pk)


# The API, endpoint by endpoint


@dataclass(frozen=True)
class Endpoint:
    url: str  # formatted with {pk}
    model: type
    view: str  # the action that decides whether the object exists for the user
    operations: dict  # HTTP method -> (action, payload, success status)

    def url_for(self, obj) -> str:
        return self.url.format(pk=obj.pk)


ENDPOINTS = {
    "project": Endpoint(
        "/api/projects/{pk}/",
        Project,
        "project.view",
        {
            "GET": ("project.view", None, 200),
            "PATCH": ("project.change", {"description": "changed"}, 200),
            "PUT": ("project.change", {"name": "Renamed"}, 200),
        },
    ),
    "project-skeleton": Endpoint(
        "/api/projects/{pk}/",
        Project,
        "project.view",
        {"PATCH": ("schema.change", {"skeleton": skeleton_preset("coco17")}, 200)},
    ),
    "classes": Endpoint(
        "/api/projects/{pk}/classes/",
        Project,
        "project.view",
        {
            "GET": ("project.view", None, 200),
            "POST": ("schema.change", {"name": "helmet"}, 201),
        },
    ),
    "class": Endpoint(
        "/api/classes/{pk}/",
        LabelClass,
        "project.view",
        {
            "GET": ("project.view", None, 200),
            "PATCH": ("schema.change", {"color": "#000000"}, 200),
            "PUT": ("schema.change", {"name": "renamed"}, 200),
            "DELETE": ("schema.change", None, 200),
        },
    ),
    "budget": Endpoint(
        "/api/projects/{pk}/budget/",
        Project,
        "budget.view",
        {
            "GET": ("budget.view", None, 200),
            "PATCH": ("budget.change", {"task_limit": 5}, 200),
            "PUT": ("budget.change", {"task_limit": 6}, 200),
        },
    ),
    "project-agreement": Endpoint(
        "/api/projects/{pk}/agreement/",
        Project,
        "project.view",
        {"GET": ("quality.view", None, 200)},
    ),
    "budget-burndown": Endpoint(
        "/api/projects/{pk}/budget/burndown/",
        Project,
        "budget.view",
        {"GET": ("budget.view", None, 200)},
    ),
    "asset": Endpoint(
        "/api/assets/{pk}/",
        Asset,
        "asset.view",
        {"GET": ("asset.view", None, 200), "DELETE": ("asset.delete", None, 204)},
    ),
    "frames": Endpoint(
        "/api/assets/{pk}/frames/", Asset, "asset.view", {"GET": ("asset.view", None, 200)}
    ),
    "task": Endpoint(
        "/api/tasks/{pk}/", AnnotationTask, "task.view", {"GET": ("task.view", None, 200)}
    ),
    "task-versions": Endpoint(
        "/api/tasks/{pk}/annotations/",
        AnnotationTask,
        "task.view",
        {"GET": ("annotation.view", None, 200)},
    ),
    "task-latest": Endpoint(
        "/api/tasks/{pk}/annotations/latest/",
        AnnotationTask,
        "task.view",
        {"GET": ("annotation.view", None, 200)},
    ),
    "task-propagations": Endpoint(
        "/api/tasks/{pk}/propagations/",
        AnnotationTask,
        "task.view",
        {"GET": ("task.view", None, 200)},
    ),
    "annotation": Endpoint(
        "/api/annotations/{pk}/",
        Annotation,
        "annotation.view",
        {"GET": ("annotation.view", None, 200)},
    ),
}


def _snapshot(obj):
    return type(obj).objects.filter(pk=obj.pk).values().first()


def _call(user, method: str, url: str, payload):
    client = APIClient()
    client.force_login(user)
    return getattr(client, method.lower())(url, payload, format="json")


OPERATION_CELLS = [
    pytest.param(name, method, role, ownership, id=f"{name}-{method}-{role}-{ownership}")
    for name, endpoint in ENDPOINTS.items()
    for method in endpoint.operations
    for role in ROLES
    for ownership in OWNERSHIPS
]


@pytest.mark.parametrize(("name", "method", "role", "ownership"), OPERATION_CELLS)
def test_endpoint_answers_what_the_table_says(request, make_object, name, method, role, ownership):
    endpoint = ENDPOINTS[name]
    action, payload, ok = endpoint.operations[method]
    user = user_for(request, role)
    obj = make_object(endpoint.model, ownership, user)
    before = _snapshot(obj)

    response = _call(user, method, endpoint.url_for(obj), payload)

    expected = expected_status(action, role, ownership, ok)
    assert response.status_code == expected, response.content[:300]
    if expected >= 400:
        assert _snapshot(obj) == before, "a refused request changed the object"


# Served, with their cells tested where the object they need is made (starting a
# propagation needs a video task with frames: tests/annotate/test_propagation_api.py).
TESTED_ELSEWHERE = {("task-propagations", "POST")}

UNSUPPORTED_CELLS = [
    pytest.param(name, method, role, ownership, id=f"{name}-{method}-{role}-{ownership}")
    for name, endpoint in ENDPOINTS.items()
    if name != "project-skeleton"
    for method in METHODS
    if method not in endpoint.operations and (name, method) not in TESTED_ELSEWHERE
    for role in ROLES
    for ownership in OWNERSHIPS
]


@pytest.mark.parametrize(("name", "method", "role", "ownership"), UNSUPPORTED_CELLS)
def test_unsupported_method_is_404_unless_the_object_is_visible(
    request, make_object, name, method, role, ownership
):
    endpoint = ENDPOINTS[name]
    user = user_for(request, role)
    obj = make_object(endpoint.model, ownership, user)
    response = _call(user, method, endpoint.url_for(obj), {})
    visible_to_user = allowed(view_action(endpoint.view, endpoint.model), role, ownership)
    assert response.status_code == (405 if visible_to_user else 404)


OUTSIDER_CELLS = [
    pytest.param(name, method, id=f"{name}-{method}")
    for name, endpoint in ENDPOINTS.items()
    if endpoint.model in (Asset, AnnotationTask, Annotation)
    for method in METHODS
]


@pytest.mark.parametrize(("name", "method"), OUTSIDER_CELLS)
def test_member_of_another_project_gets_404_for_every_method(
    make_object, carol, alice, name, method
):
    """carol annotates other_project: project's assets, tasks and annotations do not exist."""
    endpoint = ENDPOINTS[name]
    obj = make_object(endpoint.model, "own", alice)
    before = _snapshot(obj)
    payload = next(iter(endpoint.operations.values()))[1] or {}
    response = _call(carol, method, endpoint.url_for(obj), payload)
    assert response.status_code == 404
    assert _snapshot(obj) == before


def test_lists_never_show_another_projects_rows(make_object, carol, alice, rita):
    task = make_object(AnnotationTask, "own", alice)
    for url in ("/api/projects/", "/api/assets/", "/api/tasks/"):
        client = APIClient()
        client.force_login(carol)
        ids = [row["id"] for row in client.get(url).json()["results"]]
        assert task.id not in ids and task.asset_id not in ids and task.project_id not in ids
    filtered = APIClient()
    filtered.force_login(carol)
    assert filtered.get("/api/tasks/", {"project": task.project_id}).json()["count"] == 0


def test_superuser_sees_every_project(make_object, db):
    root = User.objects.create_superuser("root", "root@example.com", "pw-for-root-123")
    task = make_object(AnnotationTask, "foreign", root)
    client = APIClient()
    client.force_login(root)
    assert client.get(f"/api/tasks/{task.id}/").status_code == 200


def test_a_non_member_staff_user_sees_nothing(project, make_object, db):
    staff = User.objects.create_user("sam", is_staff=True)
    task = make_object(AnnotationTask, "own", staff)
    client = APIClient()
    client.force_login(staff)
    assert client.get(f"/api/tasks/{task.id}/").status_code == 404
    assert client.get("/api/projects/").json()["count"] == 0


def test_an_inactive_member_sees_nothing(project, alice, make_object):
    task = make_object(AnnotationTask, "own", alice)
    assert can(alice, "task.view", task)
    alice.is_active = False
    alice.save()
    assert not can(alice, "task.view", task)
