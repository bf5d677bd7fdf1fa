"""The learning curve: measured versions against labels spent, as JSON for managers and ML
engineers, plotted on the project page; and the admin's webhook delivery log."""

from __future__ import annotations

import pytest

from activelearn.models import (
    ModelVersion,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from activelearn.scoring.curve import headline_metric, learning_curve
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _version(project, name, labels, metrics, *, active=False) -> ModelVersion:
    return ModelVersion.objects.create(
        project=project,
        name=name,
        kind="baseline",
        task_type="classification",
        labels_at_training=labels,
        metrics=metrics,
        is_active=active,
    )


def test_the_headline_metric_is_the_named_one_or_a_known_key():
    assert headline_metric({"metric": "accuracy", "accuracy": 0.9}) == ("accuracy", 0.9)
    assert headline_metric({"mAP": 0.41}) == ("mAP", 0.41)
    assert headline_metric({"oks": 0.7, "loss": 2}) == ("oks", 0.7)
    assert headline_metric({"accuracy": None}) is None
    assert headline_metric({"accuracy": float("nan")}) is None
    assert headline_metric({"accuracy": True}) is None


def test_the_curve_orders_measured_versions_by_labels_spent(project):
    _version(project, "b-100", 100, {"metric": "accuracy", "accuracy": 0.8}, active=True)
    _version(project, "b-50", 50, {"metric": "accuracy", "accuracy": 0.6})
    _version(project, "unmeasured", 75, {})
    _version(project, "uploaded", None, {"accuracy": 0.99})

    curve = learning_curve(project=project)

    assert curve["metric"] == "accuracy"
    assert [(p["name"], p["labels"], p["value"], p["is_active"]) for p in curve["points"]] == [
        ("b-50", 50, 0.6, False),
        ("b-100", 100, 0.8, True),
    ]


def test_a_manager_reads_the_learning_curve_as_json(client, project, pat):
    _version(project, "b-50", 50, {"metric": "accuracy", "accuracy": 0.6})
    client.force_login(pat)
    response = client.get(f"/api/projects/{project.pk}/learning-curve/")
    assert response.status_code == 200
    assert response.json()["points"][0]["labels"] == 50


def test_an_ml_engineer_reads_the_learning_curve(client, project, eve):
    client.force_login(eve)
    response = client.get(f"/api/projects/{project.pk}/learning-curve/")
    assert response.status_code == 200 and response.json()["points"] == []


def test_an_annotator_cannot_read_the_learning_curve(client, project, alice):
    client.force_login(alice)
    response = client.get(f"/api/projects/{project.pk}/learning-curve/")
    assert response.status_code in (403, 404)


def test_another_projects_member_gets_404(client, project, carol):
    client.force_login(carol)
    assert client.get(f"/api/projects/{project.pk}/learning-curve/").status_code == 404


def test_the_project_page_holds_the_plot_that_reads_the_api(client, project, pat):
    _version(project, "<script>x</script>", 10, {"accuracy": 0.5})
    client.force_login(pat)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert 'id="learning-curve"' in page
    assert f'data-url="/api/projects/{project.pk}/learning-curve/"' in page
    assert "activelearn/curve.js" in page
    assert "<script>x</script>" not in page  # names reach the plot through the API only


def test_the_admin_shows_an_endpoints_delivery_log_read_only(client, project, pat):
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="https://train.example.com/hook", secret="s"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="labels.ready",
        state="failed",
        attempts=1,
        error="All 1 tries failed; the last one: HTTP 502.",
    )
    WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=502, error="HTTP 502")
    assert client.login(username="pat", password=PASSWORD)

    page = client.get(f"/admin/activelearn/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200 and "labels.ready" in page.content.decode()
    log = client.get(f"/admin/activelearn/webhookdelivery/{delivery.pk}/change/")
    assert log.status_code == 200 and "HTTP 502" in log.content.decode()
    posted = client.post(f"/admin/activelearn/webhookdelivery/{delivery.pk}/change/", {})
    assert posted.status_code == 403


def test_the_admin_refuses_a_webhook_to_a_private_address(client, project, pat, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert client.login(username="pat", password=PASSWORD)
    response = client.post(
        "/admin/activelearn/webhookendpoint/add/",
        {
            "project": project.pk,
            "url": "http://169.254.169.254/latest/",
            "secret": "s",
            "is_active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "This URL is refused" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_manager_pings_an_endpoint_from_the_admin(
    client, project, pat, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="https://train.example.com/hook", secret="s"
    )
    assert client.login(username="pat", password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/admin/activelearn/webhookendpoint/",
            {"action": "ping", "_selected_action": [endpoint.pk]},
        )
    assert response.status_code == 302
    assert WebhookDelivery.objects.get(endpoint=endpoint).event == "ping"
