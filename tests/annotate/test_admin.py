"""The admin: project managers see and change only the projects they manage, cannot raise
their own rights, and every piece of user text is escaped."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotate.models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Budget,
    Frame,
    KeypointInstance,
    LabelClass,
    Membership,
    Project,
    QueueEntry,
    Review,
    Track,
)
from tests.annotate.api_helpers import make_annotation, make_asset, make_task
from tests.conftest import make_project

pytestmark = pytest.mark.django_db
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-for-root-123")


class _FormFields(HTMLParser):
    """The values a browser would post from the page's main admin form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(a["name"], a.get("value") or "on")
                return
            self._add(a["name"], a.get("value") or "")
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self._add(self._textarea, "")

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_data(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    parser = _FormFields()
    parser.feed(response.content.decode())
    return {k: v if len(v) > 1 else v[0] for k, v in parser.data.items()}


def change_url(obj) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"


# Registration and the project list


def test_every_annotate_model_is_registered_with_columns_filters_and_search():
    for model in (
        Project,
        LabelClass,
        Membership,
        Asset,
        Frame,
        AnnotationTask,
        Track,
        Annotation,
        Box,
        KeypointInstance,
        Review,
        Budget,
    ):
        model_admin = admin.site._registry[model]
        assert len(model_admin.list_display) > 1, model
        assert model_admin.list_filter, model
        assert model_admin.search_fields, model


def test_project_list_shows_tasks_pending_done_and_spent_of_budget(client, project, root):
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("20"), cost_per_image=Decimal("0.50"), task_limit=100
    )
    make_task(project, state="pending")
    make_task(project, state="in_progress")
    make_task(project, state="submitted")
    client.force_login(root)
    page = client.get("/admin/annotate/project/").content.decode()
    assert '<td class="field-tasks_pending">2</td>' in page
    assert '<td class="field-tasks_done">1</td>' in page
    assert "0.50 / 20.00 USD; 1 / 100 tasks" in page


def test_project_list_queries_do_not_grow_with_the_number_of_projects(client, root):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/annotate/project/").status_code == 200
        return len(queries)

    client.force_login(root)
    make_task(make_project("First"), state="submitted")
    few = queries_for_list()
    for i in range(6):
        p = make_project(f"More {i}")
        make_task(p, state="accepted")
        make_task(p, state="pending")
    assert queries_for_list() == few


# A manager's reach


def test_manager_sees_only_projects_they_manage(client, project, other_project, pat):
    client.force_login(pat)
    page = client.get("/admin/annotate/project/").content.decode()
    assert project.name in page
    assert other_project.name not in page
    assert client.get(change_url(other_project)).status_code == 302  # "does not exist"


def test_manager_applies_a_skeleton_preset_to_their_project(client, project, pat):
    client.force_login(pat)
    data = form_data(client, change_url(project))
    data["apply_preset"] = "coco17"
    response = client.post(change_url(project), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    project.refresh_from_db()
    assert len(project.keypoint_names) == 17


def test_a_bad_skeleton_is_refused_in_the_admin(client, project, pat):
    client.force_login(pat)
    data = form_data(client, change_url(project))
    data["skeleton"] = '{"keypoints": ["a"], "edges": [["a", "b"]]}'
    response = client.post(change_url(project), data)
    assert response.status_code == 200
    assert "unknown keypoints" in response.content.decode()
    project.refresh_from_db()
    assert project.keypoint_names == ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def test_manager_edits_their_budget_in_the_project_form(client, project, pat):
    client.force_login(pat)
    data = form_data(client, change_url(project))
    data["budget-0-money_limit"] = "123.45"
    response = client.post(change_url(project), data)
    assert response.status_code == 302
    assert Budget.objects.get(project=project).money_limit == Decimal("123.45")


def test_manager_cannot_touch_another_projects_budget(client, project, other_project, pat):
    client.force_login(pat)
    foreign = Budget.objects.get(project=other_project)
    assert client.get(change_url(foreign)).status_code == 302
    response = client.post(change_url(foreign), {"currency": "EUR", "money_limit": "999999"})
    assert response.status_code == 302
    foreign.refresh_from_db()
    assert (foreign.currency, foreign.money_limit) == ("USD", None)
    assert other_project.name not in client.get("/admin/annotate/budget/").content.decode()


def test_manager_cannot_move_a_class_into_another_project(client, project, other_project, pat):
    client.force_login(pat)
    response = client.post(
        "/admin/annotate/labelclass/add/",
        {"project": other_project.id, "name": "smuggled", "color": "#000000", "order": 0},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not LabelClass.objects.filter(name="smuggled").exists()


def test_a_project_made_in_the_admin_keeps_its_manager_and_gets_a_budget(client, pat):
    client.force_login(pat)
    data = form_data(client, "/admin/annotate/project/add/")
    data.update(name="Fresh", frame_stride="5", segment_length="50", skeleton="{}")
    data.pop("keypoints_enabled", None)
    response = client.post("/admin/annotate/project/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    fresh = Project.objects.get(name="Fresh")
    assert Membership.objects.get(project=fresh, user=pat).role == "manager"
    assert Budget.objects.filter(project=fresh).exists()


def test_an_annotation_is_read_only_with_its_shapes_inline(client, project, pat, alice):
    annotation = make_annotation(make_task(project, annotator=alice), author=alice)
    client.force_login(pat)
    page = client.get(change_url(annotation))
    assert page.status_code == 200
    assert "boxes" in page.content.decode().lower()
    response = client.post(change_url(annotation), {"version": 9})
    assert response.status_code == 403
    annotation.refresh_from_db()
    assert annotation.version == 1


def test_deleting_an_asset_in_the_admin_removes_its_tracked_annotations(client, project, pat):
    task = make_task(project)
    make_annotation(task)
    client.force_login(pat)
    url = f"/admin/annotate/asset/{task.asset_id}/delete/"
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Asset.objects.filter(pk=task.asset_id).exists()


# Rights


def _grant_user_admin(user: User) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="auth", codename__in=["view_user", "change_user"]
        )
    )


def test_manager_posting_rights_for_themselves_changes_nothing(client, pat):
    _grant_user_admin(pat)  # even with the right to edit users
    client.force_login(pat)
    data = form_data(client, change_url(pat))
    data.update(
        is_superuser="on",
        is_staff="on",
        groups=[str(g.id) for g in Group.objects.all()],
        user_permissions=[str(p.id) for p in Permission.objects.all()[:20]],
        first_name="Pat",
    )
    response = client.post(change_url(pat), data)
    assert response.status_code == 302  # the form was accepted...
    pat.refresh_from_db()
    assert pat.first_name == "Pat"
    assert not pat.is_superuser  # ...and the rights in it ignored
    assert list(pat.groups.values_list("name", flat=True)) == ["Project manager"]
    assert set(pat.user_permissions.values_list("codename", flat=True)) == {
        "view_user",
        "change_user",
    }


def test_a_superuser_can_grant_rights(client, root, alice):
    client.force_login(root)
    data = form_data(client, change_url(alice))
    data["is_staff"] = "on"
    assert client.post(change_url(alice), data).status_code == 302
    alice.refresh_from_db()
    assert alice.is_staff


def test_manager_cannot_edit_a_superuser(client, pat, root):
    _grant_user_admin(pat)
    client.force_login(pat)
    response = client.post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": "taken-over-123!", "password2": "taken-over-123!"},
    )
    assert response.status_code == 403
    root.refresh_from_db()
    assert not root.check_password("taken-over-123!")


def test_manager_without_user_rights_cannot_open_the_user_admin(client, pat):
    client.force_login(pat)
    assert client.get(change_url(pat)).status_code == 403


def test_groups_are_edited_by_superusers_only(client, pat):
    pat.user_permissions.add(*Permission.objects.filter(codename__endswith="_group"))
    client.force_login(pat)
    group = Group.objects.get(name="Project manager")
    response = client.post(change_url(group), {"name": "Project manager", "permissions": []})
    assert response.status_code == 403
    assert group.permissions.exists()


# Escaping


def test_user_text_is_escaped_in_the_admin_changelists(client, project, root):
    Project.objects.filter(pk=project.pk).update(name=XSS)
    LabelClass.objects.filter(project=project, name="person").update(name=XSS)
    make_asset(project, original_name=XSS, thumbnail="projects/1/thumbs/t.jpg")
    client.force_login(root)
    for url in (
        "/admin/annotate/project/",
        "/admin/annotate/labelclass/",
        "/admin/annotate/asset/",
        change_url(project),
    ):
        page = client.get(url).content.decode()
        assert XSS not in page, url
        assert ESCAPED in page, url


@pytest.mark.parametrize("who", ["pat", "root"])
def test_every_annotate_changelist_and_change_page_opens(client, request, project, alice, who):
    task = make_task(project, annotator=alice, frames=3)
    annotation = make_annotation(task, author=alice)
    client.force_login(request.getfixturevalue(who))
    for model in admin.site._registry:
        if model._meta.app_label != "annotate":
            continue
        url = f"/admin/annotate/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
        assert client.get(url + "?q=photo").status_code == 200, url
    for obj in (project, task, task.asset, annotation, annotation.boxes.first()):
        assert client.get(change_url(obj)).status_code == 200, change_url(obj)


def test_manager_sets_a_tasks_priority_by_hand_in_the_queues_own_table(client, project, pat):
    task = make_task(project, priority=0.25)
    client.force_login(pat)
    data = form_data(client, change_url(task))
    assert float(data["priority"]) == 0.25  # read from the queue's table
    data["priority"] = "7.5"
    response = client.post(change_url(task), data)
    assert response.status_code == 302
    assert QueueEntry.objects.get(task_id=task.pk).priority == 7.5
    assert "7.5" in client.get("/admin/annotate/annotationtask/").content.decode()
