"""The annotator quality page in a real browser: a manager sees each annotator's figures and
who needs help; the project page links to it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.annotate.test_quality_annotator_stats import labeled_by_two

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_sees_who_needs_help(live_server, login, project, alice, bob, pat, rita, shot):
    labeled_by_two(project, alice, bob, pat, rita)
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    # The statistics are part of the project's quality page (its agreement plots above).
    page.get_by_role("link", name="Quality", exact=True).click()
    expect(page.get_by_role("heading", name="Annotators", exact=True)).to_be_visible()
    bob_row = page.locator('#annotator-stats tr[data-annotator="bob"]')
    alice_row = page.locator('#annotator-stats tr[data-annotator="alice"]')
    expect(bob_row).to_have_class("flagged")
    expect(bob_row.locator("td.flags")).to_contain_text("gold score below 70%")
    expect(alice_row.locator("td.flags")).to_have_text("No")
    expect(alice_row).to_contain_text("100%")
    expect(page.locator("#annotator-weeks tbody tr")).not_to_have_count(0)
    shot(page, "annotator-stats")
    # And on a page of their own.
    page.goto(f"{live_server.url}/projects/{project.pk}/quality/annotators/")
    expect(page.locator('#annotator-stats tr[data-annotator="bob"]')).to_have_class("flagged")
