"""Webhooks of the retraining loop: signed, retried with backoff until the receiver answers,
every try logged, and never sent to loopback, private or link-local addresses unless the
settings allow it."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from activelearn.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from activelearn.tasks import webhook_deliver
from activelearn.webhooks.delivery import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRefused,
    url_resolve,
    webhooks_notify,
)

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP server that answers 500 `failures` times, then 200, recording requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                failing = len(receiver.requests) <= receiver.failures
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _delivery(project, url: str, secret: str = "s3cret") -> WebhookDelivery:
    endpoint = WebhookEndpoint.objects.create(project=project, url=url, secret=secret)
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event="labels.ready", payload={"accepted_labels": 50}
    )


def test_a_webhook_is_retried_with_backoff_until_the_receiver_answers(project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with Receiver(failures=2) as receiver:
        delivery = _delivery(project, f"http://127.0.0.1:{receiver.port}/hooks/labels")
        webhook_deliver.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.state == "done" and delivery.attempts == 3
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[0].error == "HTTP 500" and attempts[2].error == ""
    assert len(receiver.requests) == 3


def test_the_receiver_can_verify_the_signature_of_the_body(project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with Receiver(failures=0) as receiver:
        delivery = _delivery(project, f"http://127.0.0.1:{receiver.port}/hook", secret="k3y")
        webhook_deliver.apply(args=[delivery.pk])

    headers, body = receiver.requests[0]
    timestamp = headers[TIMESTAMP_HEADER]
    expected = hmac.new(b"k3y", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], f"sha256={expected}")
    assert b'"event":"labels.ready"' in body and b'"accepted_labels":50' in body
    forged = hmac.new(b"wrong", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] != f"sha256={forged}"


def test_a_delivery_that_keeps_failing_is_marked_failed_after_the_last_retry(project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with Receiver(failures=100) as receiver:
        delivery = _delivery(project, f"http://127.0.0.1:{receiver.port}/hook")
        webhook_deliver.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert delivery.attempts == len(receiver.requests) == 9  # one try and 8 retries


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
    ],
)
def test_loopback_private_and_link_local_urls_are_refused(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(WebhookRefused):
        url_resolve(url)


def test_a_public_address_passes_the_check(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    target = url_resolve("https://93.184.215.14:8443/train?project=3")
    assert (target.address, target.port, target.path) == ("93.184.215.14", 8443, "/train?project=3")


def test_a_refused_url_fails_at_once_without_a_request(project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with Receiver(failures=0) as receiver:
        delivery = _delivery(project, f"http://127.0.0.1:{receiver.port}/hook")
        webhook_deliver.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.state == "failed" and receiver.requests == []
    assert WebhookAttempt.objects.get(delivery=delivery).error.startswith("refused:")


def test_the_request_goes_to_the_address_that_was_checked(project, settings, monkeypatch):
    """DNS rebinding: the name is resolved once; the connection uses that answer and the
    Host header keeps the name."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    real = socket.getaddrinfo
    answers = []

    def resolve(host, *args, **kwargs):
        if host == "hooks.example.test":
            answers.append(host)
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with Receiver(failures=0) as receiver:
        delivery = _delivery(project, f"http://hooks.example.test:{receiver.port}/hook")
        webhook_deliver.apply(args=[delivery.pk])

    assert answers == ["hooks.example.test"]
    assert receiver.requests[0][0]["Host"] == f"hooks.example.test:{receiver.port}"


def test_notify_makes_one_delivery_per_active_endpoint(project):
    WebhookEndpoint.objects.create(project=project, url="https://a.example.com/", secret="x")
    WebhookEndpoint.objects.create(
        project=project, url="https://b.example.com/", secret="y", is_active=False
    )
    deliveries = webhooks_notify(project_id=project.pk, event="labels.ready", payload={})
    assert [d.endpoint.url for d in deliveries] == ["https://a.example.com/"]
