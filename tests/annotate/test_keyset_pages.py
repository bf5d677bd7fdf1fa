"""Lists that stay fast at a million tasks: the task list pages by cursor (keyset) in id
order, the ranked queue merges each state's index instead of sorting the pool, and the
admin lists read an indexed order with a bounded count. Asserted on behaviour (rows, order,
answers) and on the plans PostgreSQL picks when sorting is made expensive."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activelearn.selectors import RankedQueuePages, queue_ranked
from annotate import counting
from annotate.api.pagination import KeysetPagination
from annotate.models import AnnotationTask
from tests.annotate.api_helpers import make_annotation, make_task
from tests.annotate.queue_fixtures import client_for, make_tasks

pytestmark = pytest.mark.django_db


def _get(client, url: str, params: dict | None = None) -> dict:
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def _follow(client, body: dict) -> dict:
    """The page `next` points at, asked with its own query string."""
    parts = urlsplit(body["next"])
    return _get(client, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def test_pages_follow_next_in_id_order_with_each_task_once(project, pat, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "page_size", 7)
    tasks = make_tasks(project, 30)
    client = client_for(pat)
    body = _get(client, "/api/tasks/", {"project": project.pk})
    seen, pages = [row["id"] for row in body["results"]], 1
    while body["next"]:
        assert "page=" not in body["next"] and "cursor=" in body["next"]
        body = _follow(client, body)
        seen += [row["id"] for row in body["results"]]
        pages += 1
    assert pages == 5
    assert seen == sorted(task.pk for task in tasks)


def test_rows_added_and_removed_while_paging_neither_repeat_nor_hide_the_others(
    project, pat, monkeypatch
):
    monkeypatch.setattr(KeysetPagination, "page_size", 5)
    tasks = make_tasks(project, 20)
    client = client_for(pat)
    first = _get(client, "/api/tasks/", {"project": project.pk})
    seen = [row["id"] for row in first["results"]]
    # Between pages: a task not yet seen is deleted, the page's first one is deleted, and
    # new tasks arrive (new ids, so after every existing one).
    AnnotationTask.objects.filter(pk__in=[tasks[12].pk, tasks[0].pk]).delete()
    added = make_tasks(project, 3)
    body = first
    while body["next"]:
        body = _follow(client, body)
        seen += [row["id"] for row in body["results"]]
    expected = [t.pk for t in tasks if t.pk != tasks[12].pk] + [t.pk for t in added]
    assert seen == expected
    assert len(seen) == len(set(seen))


def test_newest_first_pages_do_not_repeat_tasks_added_meanwhile(project, pat, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "page_size", 4)
    tasks = make_tasks(project, 10)
    client = client_for(pat)
    body = _get(client, "/api/tasks/", {"project": project.pk, "ordering": "-id"})
    seen = [row["id"] for row in body["results"]]
    make_tasks(project, 6)  # newer than the first page: before the cursor, never repeated
    while body["next"]:
        body = _follow(client, body)
        seen += [row["id"] for row in body["results"]]
    assert seen == sorted((t.pk for t in tasks), reverse=True)


def test_previous_goes_back_to_the_same_rows(project, pat, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "page_size", 4)
    make_tasks(project, 10)
    client = client_for(pat)
    first = _get(client, "/api/tasks/", {"project": project.pk})
    second = _follow(client, first)
    assert first["previous"] is None
    parts = urlsplit(second["previous"])
    back = _get(client, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]


def test_filters_hold_on_every_page(project, other_project, pat, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "page_size", 3)
    wanted = []
    for i in range(12):
        task = make_task(project, state="submitted" if i % 2 else "pending")
        if i % 2:
            wanted.append(task.pk)
    make_task(other_project, state="submitted")
    client = client_for(pat)
    body = _get(client, "/api/tasks/", {"project": project.pk, "state": "submitted"})
    assert (body["count"], body["count_exact"]) == (6, True)
    seen = [row["id"] for row in body["results"]]
    while body["next"]:
        assert "state=submitted" in body["next"]
        body = _follow(client, body)
        seen += [row["id"] for row in body["results"]]
    assert seen == wanted


def test_a_page_number_is_a_400_saying_to_follow_the_cursor(project, pat):
    make_tasks(project, 3)
    response = client_for(pat).get("/api/tasks/", {"project": project.pk, "page": 2})
    assert response.status_code == 400
    message = response.json()["page"][0]
    assert "cursor" in message and "`next`" in message


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.b64encode(b"p=abc").decode(),
        base64.b64encode(b"p=-4").decode(),
        base64.b64encode(f"p={2**63}".encode()).decode(),
    ],
)
def test_a_cursor_that_is_not_one_of_ours_is_a_400(project, pat, cursor):
    make_tasks(project, 3)
    response = client_for(pat).get("/api/tasks/", {"cursor": cursor})
    assert response.status_code == 400
    assert "Not a cursor of this list" in response.json()["cursor"][0]


def test_ordering_by_priority_is_refused_with_the_allowed_order(project, pat):
    response = client_for(pat).get("/api/tasks/", {"ordering": "-priority"})
    assert response.status_code == 400
    assert "order by id" in response.json()["ordering"][0]


def test_the_cursor_list_says_when_its_count_is_an_estimate(project, pat, monkeypatch):
    make_tasks(project, 12)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_annotationtask")
    monkeypatch.setattr(counting.count_bounded, "__defaults__", (5,))
    body = _get(client_for(pat), "/api/tasks/", {"project": project.pk})
    assert body["count_exact"] is False and body["count"] > 5
    assert len(body["results"]) == 12


def test_the_count_reads_keys_only_not_the_rows_annotations(project, pat, alice):
    task = make_task(project, annotator=alice, state="submitted")
    make_annotation(task, author=alice)
    with CaptureQueriesContext(connection) as queries:
        body = _get(client_for(pat), "/api/tasks/", {"project": project.pk})
    assert body["results"][0]["latest_version"] == 1
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts and all('annotate_annotation"' not in sql for sql in counts)


def _plan(sql: str, params) -> str:
    """The plan PostgreSQL picks when a sort or a full scan costs a fortune: a Sort node
    left in it means no index serves the order."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "filters", [{}, {"state": "pending"}, {"state": "submitted"}, {"kind": "image"}]
)
def test_a_task_list_page_is_read_from_an_index_in_its_order(project, pat, filters):
    make_tasks(project, 5)
    with CaptureQueriesContext(connection) as queries:
        _get(client_for(pat), "/api/tasks/", {"project": project.pk, **filters})
    page = next(q["sql"] for q in queries if "ORDER BY" in q["sql"] and "LIMIT 51" in q["sql"])
    assert "DISTINCT" not in page
    plan = _plan(page, None)
    assert "Sort" not in plan, plan
    assert "task_project_list_idx" in plan or "pkey" in plan, plan


def test_the_ranked_queue_merges_the_states_in_the_queues_order(project, pat, alice):
    make_tasks(project, 6, priorities=[0.9, 0.1, 0.5, 0.7, 0.3, 0.5])
    held = make_task(project, state="in_progress", priority=0.8)
    sent_back = make_task(project, state="rejected", priority=0.6, annotator=alice)
    make_task(project, state="submitted", priority=1.0)  # not waiting: not in the queue
    expected = [task.pk for task in queue_ranked(project=project, model_version=None)]
    assert held.pk in expected and sent_back.pk in expected and len(expected) == 8

    pages = RankedQueuePages(project=project, model_version=None)
    assert [t.pk for t in pages[0:8]] == expected
    assert [t.pk for t in pages[0:3]] + [t.pk for t in pages[3:8]] == expected
    assert [t.pk for t in pages[5:20]] == expected[5:]
    assert pages[8:10] == []

    client = client_for(pat)
    first = _get(client, f"/api/projects/{project.pk}/queue/", {"page_size": 3})
    second = _get(client, f"/api/projects/{project.pk}/queue/", {"page_size": 3, "page": 2})
    assert (first["count"], first["count_exact"]) == (8, True)
    assert [r["id"] for r in first["results"] + second["results"]] == expected[:6]
    assert [r["rank"] for r in second["results"]] == [4, 5, 6]


def test_the_ranked_queue_reads_each_state_from_the_queue_index(project):
    make_tasks(project, 5)
    pages = RankedQueuePages(project=project, model_version=None)
    with CaptureQueriesContext(connection) as queries:
        pages[0:3]
    merge = next(q["sql"] for q in queries if "UNION ALL" in q["sql"])
    plan = _plan(merge, None)
    # The pending tasks from the claim's own index of the queue table, the audit tasks from
    # the audit index, every other part from an index of the task table too.
    assert re.search(r"Index Scan using annotate_queue_g\d+_\w+ on annotate_queue_g", plan), plan
    assert "task_audit_idx" in plan, plan
    assert "Seq Scan" not in plan, plan
    # Only the merged rows (at most 3 x the page's end) are sorted, never the pool.
    assert not re.search(r"Sort\n.*\n.*Seq Scan", plan), plan


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-for-root-123")


ADMIN_LISTS = ["annotationtask", "asset", "frame", "track", "annotation", "review"]


@pytest.mark.parametrize("model", ADMIN_LISTS)
def test_admin_lists_never_count_the_whole_table_nor_sort_through_a_join(
    client, project, root, alice, model
):
    url, table = f"/admin/annotate/{model}/", f'FROM "annotate_{model}"'

    task = make_task(project, annotator=alice, state="submitted")
    make_annotation(task, author=alice)
    client.force_login(root)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, {"project__id__exact": project.pk}).status_code in (200, 302)
        assert client.get(url).status_code == 200
    pages = 0
    for query in queries:
        sql = query["sql"]
        if "COUNT(" in sql.upper():
            assert "LIMIT 10001" in sql, sql  # annotate.counting's bounded count
        if table in sql and "ORDER BY" in sql and "COUNT(" not in sql.upper():  # the rows
            pages += 1
            order = sql.partition("ORDER BY")[2]
            assert "annotate_project" not in order and '"name"' not in order, sql
            assert "JOIN" not in order, sql
    assert pages >= 1


def test_the_task_admin_pages_through_every_task_in_project_and_id_order(
    client, project, other_project, root
):
    tasks = make_tasks(project, 60) + make_tasks(other_project, 5)
    client.force_login(root)
    first = client.get("/admin/annotate/annotationtask/")
    second = client.get("/admin/annotate/annotationtask/", {"p": 2})
    assert first.status_code == second.status_code == 200
    shown = [obj.pk for obj in first.context["cl"].result_list] + [
        obj.pk for obj in second.context["cl"].result_list
    ]
    assert shown == [t.pk for t in sorted(tasks, key=lambda t: (t.project_id, t.pk))]


def test_the_task_admin_shows_an_estimate_past_the_cap(client, project, root, monkeypatch):
    make_tasks(project, 12)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_annotationtask")
    monkeypatch.setattr(counting.count_bounded, "__defaults__", (5,))
    client.force_login(root)
    page = client.get("/admin/annotate/annotationtask/")
    assert page.status_code == 200
    assert page.context["cl"].paginator.count_exact is False
    assert len(page.context["cl"].result_list) == 12
