"""The spend (burn-down) on the Model & queue page says what partial labeling saved: the
points the model pre-filled at the budget's price per point, next to those placed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotate.models import AnnotationTask, Budget
from tests.annotate.api_helpers import make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_spend_shows_what_prefilled_points_saved(live_server, login, project, eve):
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("10"), cost_per_image=Decimal("0.05"), cost_per_point=Decimal("0.01")
    )
    for by_hand, prefilled in ((4, 13), (6, 11)):
        task = make_task(project, state="submitted")
        AnnotationTask.objects.filter(pk=task.pk).update(
            submitted_at=timezone.now(), points_by_hand=by_hand, points_prefilled=prefilled
        )
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    burndown = page.locator("#burndown")
    # Two images at 0.05 and ten points by hand at 0.01; 24 pre-filled points not charged.
    expect(burndown.locator(".burndown-summary")).to_have_text(
        "Spent 0.20 USD of 10.00 USD (2%), 9.80 USD left."
    )
    expect(burndown.locator(".burndown-saving")).to_have_text(
        "Partial labeling saved 0.24 USD: 24 points pre-filled (71%), 10 placed by hand."
    )
