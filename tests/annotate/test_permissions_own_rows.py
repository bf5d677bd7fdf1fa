"""The "own" rows of the permission table as index conditions (annotate.permissions._owned:
a path to the user compared on the row, holding a task as `id = ANY(the held keys, read
once)`): the same rows as the OR of EXISTS conditions they replaced, for every role, action
and scoped model, and a member's task list page read from the member's own rows, not from
every task of the project checked one by one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotate.api.pagination import KeysetPagination
from annotate.models import (
    Annotation,
    AnnotationTask,
    Membership,
    Review,
    TaskLease,
)
from annotate.permissions import ANY, OWN, RULES, SCOPES, _scope, roles_by_project, rule, visible
from tests.annotate.api_helpers import make_annotation, make_task
from tests.annotate.queue_fixtures import client_for, make_tasks
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def visible_by_or(user, action: str, queryset):
    """The rule as it was written before (annotate.permissions.visible up to issue 16 item
    8): the owner conditions OR-ed on each row. The reference the new filter must equal."""
    if user.is_superuser:
        return queryset
    project_path, owner_paths = _scope(queryset.model)
    any_projects, own_projects = [], []
    for project_id, role in roles_by_project(user).items():
        level = rule(action, role)
        if level == ANY:
            any_projects.append(project_id)
        elif level == OWN:
            own_projects.append(project_id)
    condition = Q(**{f"{project_path}__in": any_projects})
    if own_projects and owner_paths:
        mine = Q()
        for owner in owner_paths:
            mine |= owner(user) if callable(owner) else Q(**{owner: user})
        condition |= Q(**{f"{project_path}__in": own_projects}) & mine
    return queryset.filter(condition)


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-for-root-123")


def _lease(task, user, state: str = "active") -> TaskLease:
    now = timezone.now()
    return TaskLease.objects.create(
        task=task, user=user, state=state, expires_at=now + timedelta(minutes=30), claimed_at=now
    )


@pytest.fixture
def mixed(project, other_project, alice, bob, carol, rita, pat, eve):
    """Both projects with tasks of every kind of ownership, and a user with a different
    role in each project (annotator in one, manager in the other)."""
    both = make_user("bea")
    Membership.objects.create(project=project, user=both, role=Membership.Role.ANNOTATOR)
    Membership.objects.create(project=other_project, user=both, role=Membership.Role.MANAGER)
    for home, people in ((project, (alice, bob, both)), (other_project, (carol, both))):
        make_tasks(home, 3)  # nobody's
        for person in people:
            labeled = make_task(home, annotator=person, state="submitted")
            annotation = make_annotation(labeled, author=person)
            Review.objects.create(
                task=labeled, annotation=annotation, reviewer=rita, decision="accept"
            )
            held = make_task(home, state="in_progress")
            _lease(held, person)
            make_annotation(held, author=None)  # a draft of the task they hold, by nobody
            _lease(make_task(home), person, state="expired")  # held once: not theirs now
            # A version they wrote of a colleague's task (a rework), and the reverse.
            other = make_task(home, annotator=None, state="submitted")
            make_annotation(other, author=person)
    # Keys owned along two paths at once (annotator and holder): one row, not two.
    twice = make_task(project, annotator=alice, state="in_progress")
    _lease(twice, alice)
    make_annotation(twice, author=alice)
    return [alice, bob, carol, rita, pat, eve, both]


def test_the_rows_are_those_of_the_or_of_owners_for_every_role_action_and_model(mixed):
    checked_own = 0
    for user in mixed:
        for model in SCOPES:
            rows = model._default_manager.all()
            for action in RULES:
                expected = list(visible_by_or(user, action, rows).order_by("pk").values("pk"))
                got = list(visible(user, action, rows).order_by("pk").values("pk"))
                assert got == expected, (user.username, model.__name__, action)
                levels = {rule(action, role) for role in roles_by_project(user).values()}
                checked_own += OWN in levels and bool(SCOPES[model][1]) and bool(expected)
    assert checked_own > 50  # the fixture reaches the "own" branch, with rows to compare


def test_an_annotator_sees_their_labeled_and_held_tasks_only(mixed, project, alice):
    tasks = set(visible(alice, "task.view", AnnotationTask.objects.all()))
    assert tasks and all(t.project_id == project.pk for t in tasks)
    held = set(TaskLease.objects.filter(user=alice, state="active").values_list("task", flat=True))
    assert {t.pk for t in tasks} == held | {t.pk for t in tasks if t.annotator_id == alice.pk}
    annotations = visible(alice, "annotation.view", Annotation.objects.all())
    mine = annotations.filter(Q(author=alice) | Q(task__annotator=alice) | Q(task__in=held))
    assert annotations.count() == mine.count() > 0


def test_a_user_with_two_roles_sees_all_of_one_project_and_their_own_of_the_other(
    mixed, project, other_project
):
    bea = mixed[-1]
    tasks = visible(bea, "task.view", AnnotationTask.objects.all())
    assert set(tasks.filter(project=other_project)) == set(other_project.tasks.all())
    own = tasks.filter(project=project)
    assert 0 < own.count() < project.tasks.count()
    assert own.count() == visible_by_or(bea, "task.view", project.tasks.all()).count()


def _plan(sql: str, params) -> str:
    """The plan when reading a table in full costs a fortune (a test's tables are tiny)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _page_and_count(client, project) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/tasks/", {"project": project.pk})
    assert response.status_code == 200, response.content[:300]
    return [q["sql"] for q in queries if "annotate_annotationtask" in q["sql"]]


def test_an_annotators_task_list_reads_their_rows_not_every_task_of_the_project(
    project, alice, bob
):
    make_tasks(project, 2000)  # enough that reading them all costs more than the owner's
    mine = [make_task(project, annotator=alice, state="submitted") for _ in range(3)]
    held = make_task(project, state="in_progress")
    _lease(held, alice)
    make_task(project, annotator=bob, state="submitted")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    body = client_for(alice).get("/api/tasks/", {"project": project.pk}).json()
    assert [row["id"] for row in body["results"]] == sorted([t.pk for t in mine] + [held.pk])
    assert (body["count"], body["count_exact"]) == (4, True)

    statements = _page_and_count(client_for(alice), project)
    page = next(sql for sql in statements if "ORDER BY" in sql and "LIMIT 51" in sql)
    count = next(sql for sql in statements if "COUNT(" in sql.upper())
    for sql in (page, count):
        plan = _plan(sql, None)
        # The owner's rows come from their indexes: tasks by annotator, leases by user...
        assert "task_annotator_idx" in plan, plan
        assert "tasklease" in plan and "Seq Scan" not in plan, plan
        # ...and no task is checked by a condition run per row (the OR of EXISTS was a
        # filter with a SubPlan on a scan of every task of the project, in id order).
        filters = [line for line in plan.splitlines() if "Filter:" in line]
        assert not any("SubPlan" in line or "hashed" in line for line in filters), plan


@pytest.mark.parametrize("role", ["manager", "ml_engineer", "reviewer"])
def test_a_member_who_sees_every_task_reads_the_page_from_the_keyset_index(project, role):
    member = make_user(f"member-{role}")
    Membership.objects.create(project=project, user=member, role=role)
    make_tasks(project, 5)
    page = next(
        sql
        for sql in _page_and_count(client_for(member), project)
        if "ORDER BY" in sql and "LIMIT 51" in sql
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        plan = _plan(page, None)
    assert "Sort" not in plan and "SubPlan 2" not in plan, plan
    assert "task_project_list_idx" in plan, plan


def test_narrowed_to_a_project_the_rows_are_those_of_the_project_filtered_after(
    mixed, project, other_project, root
):
    for user in [*mixed, root]:
        for home in (project, other_project):
            for model in (AnnotationTask, Annotation, Review, TaskLease):
                rows = model._default_manager.all()
                path = SCOPES[model][0]
                for action in ("task.view", "task.label", "annotation.view"):
                    expected = visible_by_or(user, action, rows).filter(**{path: home.pk})
                    got = visible(user, action, rows, project_id=home.pk)
                    assert set(got) == set(expected), (user.username, model, action)


def test_the_task_list_of_a_project_gives_each_user_the_rows_of_the_old_rule(
    mixed, project, other_project, monkeypatch
):
    monkeypatch.setattr(KeysetPagination, "page_size", 1000)
    for user in mixed:
        for home in (project, other_project):
            body = client_for(user).get("/api/tasks/", {"project": home.pk}).json()
            expected = visible_by_or(user, "task.view", home.tasks.all()).order_by("pk")
            assert [row["id"] for row in body["results"]] == [t.pk for t in expected]


def test_a_user_with_two_roles_reads_a_page_of_each_project_by_its_own_rule(project, other_project):
    bea = make_user("bea")
    Membership.objects.create(project=project, user=bea, role=Membership.Role.ANNOTATOR)
    Membership.objects.create(project=other_project, user=bea, role=Membership.Role.MANAGER)
    make_tasks(project, 2000)
    make_tasks(other_project, 2000)
    make_task(project, annotator=bea, state="submitted")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    own = [
        sql
        for sql in _page_and_count(client_for(bea), project)
        if "ORDER BY" in sql and "LIMIT 51" in sql
    ][0]
    plan = _plan(own, None)
    assert "task_annotator_idx" in plan, plan
    filters = [line for line in plan.splitlines() if "Filter:" in line]
    assert not any("SubPlan" in line or "hashed" in line for line in filters), plan
    managed = [
        sql
        for sql in _page_and_count(client_for(bea), other_project)
        if "ORDER BY" in sql and "LIMIT 51" in sql
    ][0]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        plan = _plan(managed, None)
    assert "Sort" not in plan and "task_annotator_idx" not in plan, plan
    assert "SubPlan 2" not in plan, plan  # no owner condition left to check per row
    assert "task_project_list_idx" in plan or "pkey" in plan, plan
    # Both projects' tasks (no project filter): the two rules are an OR, the held keys an
    # array computed once (an InitPlan) that an index reads, never a probe per row.
    with CaptureQueriesContext(connection) as queries:
        assert client_for(bea).get("/api/tasks/").status_code == 200
    both = next(q["sql"] for q in queries if "LIMIT 51" in q["sql"])
    plan = _plan(both, None)
    assert "InitPlan" in plan and "= ANY" in plan, plan
    filters = [line for line in plan.splitlines() if "Filter:" in line]
    assert not any("SubPlan" in line or "hashed" in line for line in filters), plan
