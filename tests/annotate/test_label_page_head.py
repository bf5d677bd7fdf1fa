"""The labeling page's head: what it preloads, and nothing of the template shown as text."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.browser.media import image_task

pytestmark = pytest.mark.django_db


def test_a_template_comment_over_two_lines_no_longer_shows_at_the_top_of_the_label_page(
    project, alice, media_root
):
    task = image_task(project, lease_user=alice)
    client = Client()
    client.force_login(alice)

    page = client.get(f"/tasks/{task.pk}/label/").content.decode()

    assert "{#" not in page and "Fetch every module" not in page
    assert 'rel="modulepreload" href="/static/annotate/propagate.js"' in page
