"""Password guessing is slowed per username and per client address, for the login page and
the token endpoint alike: after too many failures within the lockout window, every attempt
(even with the right password) is refused until the window ends.

Counters live in the shared cache (Redis), so all web processes count together. When the
cache cannot be reached we fail closed: no password is checked, the client is told why.

The client address is REMOTE_ADDR unless settings.TRUSTED_PROXY_COUNT proxies stand in front,
in which case it is the X-Forwarded-For entry the outermost trusted proxy added. Entries to
the left of it are the client's own say and are ignored, so a forged header cannot reset the
count.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from .errors import ServiceError

CACHE_ERRORS = (RedisError, OSError)


class LoginThrottled(ServiceError):
    """Too many failed logins: retry_after says in how many seconds to try again."""

    status = 429
    code = "login_throttled"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"Too many failed login attempts. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
            detail={"retry_after": retry_after},
        )
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class LoginUnavailable(ServiceError):
    status = 503
    code = "login_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Logging in is unavailable for a moment: the attempt counter (Redis) cannot be "
            "reached, and passwords are not checked without it. Try again shortly."
        )


def client_address(meta: dict) -> str:
    """The client's address, from X-Forwarded-For only through the trusted proxies."""
    remote = meta.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    if not entries:
        return remote
    return entries[-min(proxies, len(entries))]


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    # Hashed: a username is user input, and cache keys must be short and safe.
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    place = hashlib.sha256(address.encode()).hexdigest()[:32]
    return [
        (f"login-fail:user:{name}", settings.LOGIN_FAILURES_PER_USERNAME),
        (f"login-fail:addr:{place}", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def login_attempt_check(*, username: str, address: str) -> None:
    """Raise LoginThrottled when this username or address is locked out, LoginUnavailable
    when the counters cannot be read. Call before the password is checked."""
    keys = _keys(username, address)
    try:
        found = cache.get_many([k for k, _ in keys] + [f"{k}:until" for k, _ in keys])
    except CACHE_ERRORS:
        raise LoginUnavailable() from None
    now = time.time()
    waits = [
        int(found.get(f"{key}:until", now) - now) + 1
        for key, limit in keys
        if found.get(key, 0) >= limit
    ]
    if waits:
        raise LoginThrottled(max(1, max(waits)))


def login_failure_record(*, username: str, address: str) -> None:
    """Count one failed attempt against the username and the address; the window starts at
    the first failure and is not extended by later ones."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    try:
        for key, _ in _keys(username, address):
            if cache.add(key, 0, timeout=window):
                cache.set(f"{key}:until", time.time() + window, timeout=window)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: start again
                cache.set(key, 1, timeout=window)
                cache.set(f"{key}:until", time.time() + window, timeout=window)
    except CACHE_ERRORS:
        raise LoginUnavailable() from None


def login_success_record(*, username: str, address: str) -> None:
    """A right password clears the username's count (not the address's: one's own account
    must not wipe the record of guesses at others')."""
    key = _keys(username, address)[0][0]
    try:
        cache.delete_many([key, f"{key}:until"])
    except CACHE_ERRORS:
        raise LoginUnavailable() from None
