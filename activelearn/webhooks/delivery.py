"""Webhooks that tell an ML engineer's training service what the loop did: new labels are
ready, or more labels have stopped paying (the events are listed in EVENTS).

Each request is signed: `X-Annotate-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>" with the endpoint's secret>` and `X-Annotate-Timestamp: <unix seconds>`,
so a receiver can check both origin and freshness. A delivery is a job of the one job model
(annotate.jobs): each try claims it (queued -> running, one attempt) and is logged as a
WebhookAttempt; a failed try puts it back to queued and the Celery task
(`activelearn.webhook_deliver`) retries it with exponential backoff; a retry message that
never comes (a dead worker, a broker restart) is sent again by the jobs sweep.

Server-side request forgery: the URL's host is resolved once and every address it resolves
to must be globally routable (`ipaddress` is_global: this also refuses shared address space
100.64.0.0/10, where cloud metadata services such as 100.100.100.200 live, and every other
special-purpose block, including IPv4 hidden in IPv6 forms), unless settings.
WEBHOOK_ALLOW_PRIVATE lets a local training service in. settings.OUTBOUND_DENY_NETWORKS
is refused in every case (metadata addresses by default). The check runs when the URL is
saved and again on every try, and the connection goes to the checked address, so a DNS
answer that changes between the check and the request (rebinding) cannot redirect it.
Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from activelearn.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from annotate.jobs import job_claim, job_enqueue, job_fail, job_finish
from annotate.models.jobs import RESEND_AFTER_S, JobState
from annotate.outbound import address_refusal

SIGNATURE_HEADER = "X-Annotate-Signature"
TIMESTAMP_HEADER = "X-Annotate-Timestamp"
EVENT_HEADER = "X-Annotate-Event"
DELIVERY_HEADER = "X-Annotate-Delivery"
TIMEOUT_S = 10
MAX_ERROR_CHARS = 2000
# The longest backoff between two tries (activelearn.tasks.webhook_deliver's
# retry_backoff_max): a delivery waiting for its next try is sent again by the sweep only
# once this (and the sweep's own margin) has passed without the try.
RETRY_BACKOFF_MAX_S = 600

logger = logging.getLogger(__name__)

STOP_RECOMMENDED = "learning.stop_recommended"
# Every event a delivery may carry; the body is {"event", "delivery", **payload}.
EVENTS = {
    "ping": "Sent by hand from the admin, to check a receiver. Payload: project {id}.",
    "labels.ready": (
        "A retraining round started (activelearn.retraining.rounds): accepted_labels, round, "
        "project {id, name} and export {id, format, url, download_url} of the labels."
    ),
    STOP_RECOMMENDED: (
        "Once per project, the first time the audit's forecast (activelearn.audit.forecast) "
        "says the next 1,000 labels gain, at the top of their 95% interval, less than the "
        "project's stop_gain_per_1000: project {id, name}, report (the audit measurement), "
        "labels (counted so far), metric, source ('audit' or 'validation_slice'), "
        "gain_per_1000 {value, low, high}, threshold, now and at_budget_end "
        "{value, low, high} (the forecast metric), labels_left (what the budget still pays)."
    ),
}


class WebhookRefused(Exception):
    """The URL may never be called (bad scheme, unresolvable, or a forbidden address)."""


class WebhookFailed(Exception):
    """This try failed (network error or a non-2xx answer); worth retrying."""


def signature_of(*, secret: str, timestamp: str, body: bytes) -> str:
    """The value of the signature header; receivers compute the same and compare in
    constant time."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _refusal(address, *, allow_private: bool) -> str | None:
    """Why a connection to `address` is not allowed, in words (annotate.outbound)."""
    return address_refusal(address, allow_private=allow_private)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP the connection goes to


def url_resolve(url: str, *, allow_private: bool | None = None) -> Target:
    """Parse and resolve `url`; refuse it when any address it resolves to is forbidden."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise WebhookRefused("credentials in the URL are not allowed; use the secret")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise WebhookRefused(f"bad port: {error}") from error
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookRefused(f"cannot resolve {parts.hostname}: {error}") from error
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise WebhookRefused(f"{parts.hostname} resolves to no address")
    for raw in addresses:
        reason = _refusal(ipaddress.ip_address(raw.split("%", 1)[0]), allow_private=allow_private)
        if reason:
            raise WebhookRefused(f"{parts.hostname} resolves to {reason}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


def webhook_url_check(url: str) -> None:
    """For forms and services: raise WebhookRefused with the reason, or return."""
    url_resolve(url)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, not the pinned address.
        self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)


def _post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, TIMEOUT_S)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


# --- services ---------------------------------------------------------------------------------


def webhooks_notify(*, project_id: int, event: str, payload: dict) -> list[WebhookDelivery]:
    """One delivery per active endpoint of the project, each sent by Celery after commit."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}: list it in EVENTS")
    deliveries = []
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.filter(project_id=project_id, is_active=True):
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint, event=event, payload=payload
            )
            deliveries.append(delivery)
            job_enqueue(delivery)
    return deliveries


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A "ping" event to one endpoint, so an engineer can check their receiver."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event="ping", payload={"project": {"id": endpoint.project_id}}
        )
        job_enqueue(delivery)
    return delivery


def _attempt_log(
    delivery_id: int, number: int, *, status_code: int | None, error: str, started: float
) -> None:
    """Log one try (its number: the delivery's attempts, counted by the claim)."""
    WebhookAttempt.objects.update_or_create(
        delivery_id=delivery_id,
        number=number,
        defaults={
            "status_code": status_code,
            "error": error[:MAX_ERROR_CHARS],
            "duration_ms": int((time.monotonic() - started) * 1000),
        },
    )


def webhook_attempt(*, delivery_id: int) -> str:
    """Try one delivery once. Returns its state; raises WebhookFailed when it is worth
    trying again (it is queued again for that try). A refused URL fails at once (retrying
    cannot make it allowed); the last allowed try (WebhookDelivery.max_attempts) fails it.
    A delivery that is not queued (done, failed, or another worker's try) is left alone."""
    if not job_claim(WebhookDelivery, delivery_id):
        state = WebhookDelivery.objects.filter(pk=delivery_id).values_list("state", flat=True)
        return state.first() or "missing"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    number = delivery.attempts
    body = json.dumps(
        {"event": delivery.event, "delivery": delivery.pk, **delivery.payload},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    timestamp = str(int(time.time()))
    started = time.monotonic()
    try:
        target = url_resolve(delivery.endpoint.url)
    except WebhookRefused as error:
        _attempt_log(
            delivery_id, number, status_code=None, error=f"refused: {error}", started=started
        )
        job_fail(WebhookDelivery, delivery_id, f"The address is refused: {error}.")
        return JobState.FAILED
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "annotate-webhooks/1",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature_of(
            secret=delivery.endpoint.secret, timestamp=timestamp, body=body
        ),
    }
    status_code, error = None, ""
    try:
        status_code = _post(target, body, headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except (OSError, http.client.HTTPException) as problem:
        error = f"{type(problem).__name__}: {problem}"
    _attempt_log(delivery_id, number, status_code=status_code, error=error, started=started)
    if not error:
        job_finish(WebhookDelivery, delivery_id)
        return JobState.DONE
    if number >= WebhookDelivery.max_attempts:
        job_fail(
            WebhookDelivery,
            delivery_id,
            f"All {number} tries failed; the last one: {error}.",
        )
        return JobState.FAILED
    # Waits for its next try (Celery's retry); the sweep sends it should that never come.
    wait = timedelta(seconds=RETRY_BACKOFF_MAX_S + RESEND_AFTER_S)
    WebhookDelivery.objects.filter(pk=delivery_id, state=JobState.RUNNING).update(
        state=JobState.QUEUED,
        deadline_at=timezone.now() + wait,
        error=f"Try {number} failed ({error}); it is tried again with backoff.",
    )
    raise WebhookFailed(error)
