"""Webhooks that tell an ML engineer's training service that new labels are ready.

Each request is signed: `X-Annotate-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>" with the endpoint's secret>` and `X-Annotate-Timestamp: <unix seconds>`,
so a receiver can check both origin and freshness. A delivery is retried with exponential
backoff by a Celery task (`activelearn.webhook_deliver`); every try is logged as a
WebhookAttempt.

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
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from activelearn.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from annotate.jobs import enqueue_on_commit

SIGNATURE_HEADER = "X-Annotate-Signature"
TIMESTAMP_HEADER = "X-Annotate-Timestamp"
EVENT_HEADER = "X-Annotate-Event"
DELIVERY_HEADER = "X-Annotate-Delivery"
TIMEOUT_S = 10
MAX_ERROR_CHARS = 2000

logger = logging.getLogger(__name__)


class WebhookRefused(Exception):
    """The URL may never be called (bad scheme, unresolvable, or a forbidden address)."""


class WebhookFailed(Exception):
    """This try failed (network error or a non-2xx answer); worth retrying."""


def signature_of(*, secret: str, timestamp: str, body: bytes) -> str:
    """The value of the signature header; receivers compute the same and compare in
    constant time."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    return None


def _refusal(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool
) -> str | None:
    """Why a connection to `address` is not allowed, in words; None when it is."""
    addresses = [address]
    if isinstance(address, ipaddress.IPv6Address) and (inner := _embedded_ipv4(address)):
        addresses.append(inner)
    denied = [ipaddress.ip_network(n, strict=False) for n in settings.OUTBOUND_DENY_NETWORKS]
    for candidate in addresses:
        for network in denied:
            if candidate.version == network.version and candidate in network:
                return f"{candidate}, in the denied network {network}"
        if candidate.is_multicast or candidate.is_unspecified:
            return f"{candidate}, a multicast or unspecified address"
        if not allow_private and not candidate.is_global:
            return (
                f"{candidate}, not a globally routable address (loopback, private, shared, "
                "link-local or reserved; settings.WEBHOOK_ALLOW_PRIVATE is off)"
            )
    return None


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
    deliveries = []
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.filter(project_id=project_id, is_active=True):
            delivery = WebhookDelivery.objects.create(
                endpoint=endpoint, event=event, payload=payload
            )
            deliveries.append(delivery)
            _enqueue(delivery.pk)
    return deliveries


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A "ping" event to one endpoint, so an engineer can check their receiver."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event="ping", payload={"project": {"id": endpoint.project_id}}
        )
        _enqueue(delivery.pk)
    return delivery


def _enqueue(delivery_id: int) -> None:
    started = time.monotonic()

    def not_sent(error: Exception) -> None:
        # Visible in the delivery log rather than lost; the delivery stays pending.
        _attempt_log(
            delivery_id,
            status_code=None,
            error=f"not sent: queue unreachable ({error})",
            started=started,
        )

    enqueue_on_commit("activelearn.webhook_deliver", delivery_id, on_failure=not_sent)


def _attempt_log(delivery_id: int, *, status_code: int | None, error: str, started: float) -> int:
    """Count and log one try; returns its number."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery_id).update(attempts=F("attempts") + 1)
        number = WebhookDelivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)
        WebhookAttempt.objects.create(
            delivery_id=delivery_id,
            number=number,
            status_code=status_code,
            error=error[:MAX_ERROR_CHARS],
            duration_ms=int((time.monotonic() - started) * 1000),
        )
    return number


def webhook_attempt(*, delivery_id: int, final: bool = False) -> str:
    """Try one delivery once. Returns its state; raises WebhookFailed when it is worth
    trying again. A refused URL fails at once (retrying cannot make it allowed); `final`
    marks the delivery failed when this try fails too."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != WebhookDelivery.State.PENDING:
        return delivery.state if delivery else "missing"
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
        _attempt_log(delivery_id, status_code=None, error=f"refused: {error}", started=started)
        WebhookDelivery.objects.filter(pk=delivery_id, state="pending").update(
            state=WebhookDelivery.State.FAILED
        )
        return WebhookDelivery.State.FAILED
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
    _attempt_log(delivery_id, status_code=status_code, error=error, started=started)
    if not error:
        WebhookDelivery.objects.filter(pk=delivery_id, state="pending").update(
            state=WebhookDelivery.State.DELIVERED, delivered_at=timezone.now()
        )
        return WebhookDelivery.State.DELIVERED
    if final:
        WebhookDelivery.objects.filter(pk=delivery_id, state="pending").update(
            state=WebhookDelivery.State.FAILED
        )
        return WebhookDelivery.State.FAILED
    raise WebhookFailed(error)
