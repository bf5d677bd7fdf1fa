"""Which addresses the server may open connections to on a user's behalf (webhooks, bucket
endpoints): the one check against server-side request forgery.

Every address a host resolves to must be globally routable (`ipaddress` is_global: this also
refuses shared address space 100.64.0.0/10, where cloud metadata services such as
100.100.100.200 live, and every other special-purpose block, including IPv4 hidden in IPv6
forms), unless the caller's setting lets private addresses (webhooks:
WEBHOOK_ALLOW_PRIVATE) or loopback alone (buckets: BUCKET_ALLOW_LOOPBACK) in.
settings.OUTBOUND_DENY_NETWORKS is refused in every case (metadata addresses by default).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(Exception):
    """The URL may not be called (bad scheme, unresolvable, or a forbidden address)."""


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


def address_refusal(
    address: Address,
    *,
    allow_private: bool = False,
    allow_loopback: bool = False,
    setting: str = "WEBHOOK_ALLOW_PRIVATE",
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
        if allow_private or candidate.is_global:
            continue
        if allow_loopback and candidate.is_loopback:
            continue
        return (
            f"{candidate}, not a globally routable address (loopback, private, shared, "
            f"link-local or reserved; settings.{setting} is off)"
        )
    return None


def endpoint_check(url: str, *, allow_loopback: bool, setting: str) -> str:
    """Refuse (OutboundRefused, with the reason) an http(s) endpoint URL that has
    credentials in it or resolves to any forbidden address; return its host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise OutboundRefused("credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise OutboundRefused(f"bad port: {error}") from error
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundRefused(f"cannot resolve {parts.hostname}: {error}") from error
    if not infos:
        raise OutboundRefused(f"{parts.hostname} resolves to no address")
    for info in infos:
        raw = info[4][0]
        reason = address_refusal(
            ipaddress.ip_address(raw.split("%", 1)[0]),
            allow_loopback=allow_loopback,
            setting=setting,
        )
        if reason:
            raise OutboundRefused(f"{parts.hostname} resolves to {reason}")
    return parts.hostname
