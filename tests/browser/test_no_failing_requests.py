"""Every page a role may open loads without one request answering 4xx: a role is shown only
what it may read (the learning curve used to answer 403 on every annotator's page view)."""

from __future__ import annotations

import pytest

from tests.browser.helpers import wait_ready
from tests.browser.media import image_task
from tests.browser.test_review_flow import submitted_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _failures(page, base_url: str, paths: list[str], *, label_pages=()) -> list[str]:
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None
        ),
    )
    for path in paths:
        page.goto(base_url + path)
        if path in label_pages:
            wait_ready(page)
        page.wait_for_load_state("networkidle")
    return failed


@pytest.fixture
def work(project, alice):
    image_task(project)
    return submitted_task(project, alice)


def test_an_annotator_sees_no_failing_request(live_server, login, project, alice, work):
    page = login(alice)
    label = f"/projects/{project.pk}/label/"
    assert (
        _failures(page, live_server.url, [f"/projects/{project.pk}/", label], label_pages=[label])
        == []
    )


def test_a_reviewer_sees_no_failing_request(live_server, login, project, rita, work):
    page = login(rita)
    review = f"/tasks/{work.pk}/review/"
    paths = [f"/projects/{project.pk}/", f"/projects/{project.pk}/review/", review]
    assert _failures(page, live_server.url, paths, label_pages=[review]) == []


@pytest.mark.parametrize("user", ["pat", "eve"])
def test_managers_and_ml_engineers_see_no_failing_request(
    request, live_server, login, project, work, user
):
    page = login(request.getfixturevalue(user))
    paths = [
        f"/projects/{project.pk}/",
        f"/projects/{project.pk}/model/",
        f"/projects/{project.pk}/exports/",
    ]
    assert _failures(page, live_server.url, paths) == []
