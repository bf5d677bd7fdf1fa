"""Who sees the Model & queue and Exports pages, and what the project page offers each role:
managers and ML engineers get the pages and the links; annotators and reviewers get neither
(403 if they type the address), other projects 404, and no page embeds a request its reader
may not make (the learning curve's 403 on every annotator's page view)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotate.models import Membership
from annotate.permissions import rule

pytestmark = pytest.mark.django_db

ROLE_USERS = {
    Membership.Role.ANNOTATOR: "alice",
    Membership.Role.REVIEWER: "rita",
    Membership.Role.MANAGER: "pat",
    Membership.Role.ML_ENGINEER: "eve",
}
PAGES = {"model-queue": "queue.view", "project-exports": "export.run"}
CELLS = [pytest.param(page, role, id=f"{page}-{role}") for page in PAGES for role in ROLE_USERS]


def _client(client, request, name):
    client.force_login(request.getfixturevalue(name))
    return client


@pytest.mark.parametrize(("page", "role"), CELLS)
def test_a_page_answers_what_the_permission_table_says(client, request, project, page, role):
    client = _client(client, request, ROLE_USERS[role])
    response = client.get(reverse(page, args=[project.pk]))
    assert response.status_code == (200 if rule(PAGES[page], role) == "any" else 403)


@pytest.mark.parametrize("page", PAGES)
def test_another_projects_page_is_404_for_every_method(client, request, project, carol, page):
    client.force_login(carol)
    url = reverse(page, args=[project.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_ask_for_a_login(client, project, page):
    response = client.get(reverse(page, args=[project.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_take_no_posts(client, project, pat, page):
    client.force_login(pat)
    assert client.post(reverse(page, args=[project.pk])).status_code == 405


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_the_project_page_links_the_loop_pages_only_for_roles_that_may_open_them(
    client, request, project, role
):
    client = _client(client, request, ROLE_USERS[role])
    html = client.get(reverse("project-detail", args=[project.pk])).content.decode()
    may = rule("queue.view", role) == "any"
    assert (reverse("model-queue", args=[project.pk]) in html) is may
    assert (reverse("project-exports", args=[project.pk]) in html) is (
        rule("export.run", role) == "any"
    )
    # The learning curve's endpoint is named on the page only for those who may read it.
    assert (reverse("api-learning-curve", args=[project.pk]) in html) is may


def _config(response, element_id):
    html = response.content.decode()
    start = html.index(f'id="{element_id}"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


@pytest.mark.parametrize("user", ["pat", "eve"])
def test_the_model_page_names_only_endpoints_its_reader_may_call(client, request, project, user):
    client = _client(client, request, user)
    response = client.get(reverse("model-queue", args=[project.pk]))
    config = _config(response, "model-page-config")
    assert config["may_manage"] is True
    assert config["urls"]["versions"] == f"/api/projects/{project.pk}/checkpoints/"
    assert config["urls"]["burndown"] == f"/api/projects/{project.pk}/budget/burndown/"
    assert config["labels"]["run_states"]["superseded"] == "Superseded"
    for name in ("versions", "runs", "queue", "burndown"):
        assert client.get(config["urls"][name]).status_code == 200, name
    html = response.content.decode()
    assert 'id="burndown"' in html and 'id="learning-curve"' in html


def test_the_model_page_shows_its_empty_states_in_words(client, project, eve):
    client.force_login(eve)
    html = client.get(reverse("model-queue", args=[project.pk])).content.decode()
    assert "No model yet: upload an ONNX file or push predictions." in html
    assert "No scoring runs yet" in html


def test_the_exports_page_offers_every_format_and_the_import_form(client, project, pat):
    client.force_login(pat)
    response = client.get(reverse("project-exports", args=[project.pk]))
    html = response.content.decode()
    for value in ("coco", "yolo", "mot", "cvat"):
        assert f'<option value="{value}">' in html
    assert 'id="import-form"' in html
    config = _config(response, "exports-page-config")
    for name in ("exports", "imports"):
        assert client.get(config["urls"][name]).status_code == 200, name
