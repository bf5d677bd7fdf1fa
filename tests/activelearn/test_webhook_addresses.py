"""Outbound URLs must resolve only to globally routable addresses (shared address space and
cloud metadata included), a deny-list holds even for local training services, and the check
runs when the URL is saved and again on every connection."""

from __future__ import annotations

import socket

import pytest

from activelearn.admin.webhooks import WebhookEndpointForm
from activelearn.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from activelearn.webhooks.delivery import WebhookRefused, url_resolve, webhook_attempt

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata, in 100.64/10
        "http://100.64.0.1/hook",
        "http://198.18.0.1/hook",  # benchmarking
        "http://192.0.2.10/hook",  # documentation
        "http://240.0.0.1/hook",  # reserved
        "http://[2001:db8::1]/hook",
        "http://[fd00::1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 form of 169.254.169.254
        "http://[::ffff:100.100.100.200]/hook",
        "http://[2002:6464:64c8::1]/hook",  # 6to4 form of 100.100.100.200
    ],
)
def test_webhook_urls_to_addresses_that_are_not_globally_routable_are_refused(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(WebhookRefused):
        url_resolve(url)


def test_a_shared_address_is_refused_naming_the_reason_without_any_deny_list(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.OUTBOUND_DENY_NETWORKS = []
    with pytest.raises(WebhookRefused, match=r"100\.100\.100\.200, not a globally routable"):
        url_resolve("http://100.100.100.200/")


def test_metadata_addresses_stay_refused_when_private_addresses_are_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    for url in ("http://169.254.169.254/", "http://100.100.100.200/", "http://[fd00:ec2::254]/"):
        with pytest.raises(WebhookRefused, match="denied network"):
            url_resolve(url)
    assert url_resolve("http://127.0.0.1:9000/train").address == "127.0.0.1"


def test_the_deny_list_setting_refuses_public_networks_too(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.OUTBOUND_DENY_NETWORKS = ["93.184.215.0/24"]
    with pytest.raises(WebhookRefused, match=r"denied network 93\.184\.215\.0/24"):
        url_resolve("https://93.184.215.14/")


def test_a_webhook_url_to_a_shared_address_is_refused_when_it_is_saved(project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.OUTBOUND_DENY_NETWORKS = []
    form = WebhookEndpointForm(
        data={"project": project.pk, "url": "http://100.100.100.200/hook", "secret": "s"}
    )
    assert not form.is_valid()
    assert "not a globally routable address" in form.errors["url"][0]


def test_a_name_that_later_resolves_to_a_metadata_address_is_refused_when_sent(
    project, settings, monkeypatch
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="http://hooks.example.test/hook", secret="s"
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="ping", payload={})
    real = socket.getaddrinfo

    def rebound(host, *args, **kwargs):
        if host == "hooks.example.test":
            return real("100.100.100.200", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)

    assert webhook_attempt(delivery_id=delivery.pk) == WebhookDelivery.State.FAILED
    error = WebhookAttempt.objects.get(delivery=delivery).error
    assert error.startswith("refused: hooks.example.test resolves to 100.100.100.200")
