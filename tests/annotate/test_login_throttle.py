"""Password guessing is throttled per username and per client address on the login page and
the token endpoint; X-Forwarded-For counts only through the trusted proxies; while the cache
is down logins fail closed with a clear 503."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.test import APIClient

from annotate.services.logins import client_address
from tests.conftest import PASSWORD

CLOSED_PORT_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@pytest.fixture(autouse=True)
def clear_counters():
    cache.clear()
    yield
    cache.clear()


def page_login(client: Client, username: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def token(username: str, password: str, **extra):
    return APIClient().post("/api/token/", {"username": username, "password": password}, **extra)


def test_after_25_wrong_passwords_the_right_one_does_not_log_in_on_the_page(alice):
    client = Client()
    codes = [page_login(client, "alice", f"guess-{i}").status_code for i in range(25)]

    response = page_login(client, "alice", PASSWORD)

    assert codes[:10] == [200] * 10  # the form again, with "didn't match"
    assert set(codes[10:]) == {429}
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many failed login attempts. Try again in 15 minutes." in response.content
    assert "_auth_user_id" not in client.session


def test_a_right_password_before_the_lockout_logs_in_and_clears_the_username_count(alice):
    client = Client()
    for i in range(9):
        page_login(client, "alice", f"guess-{i}")

    assert page_login(client, "alice", PASSWORD).status_code == 302
    assert page_login(Client(), "alice", "guess-again").status_code == 200


def test_the_token_throttle_is_not_reset_by_a_different_x_forwarded_for_each_time(alice):
    codes = [
        token("alice", "nope", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(12)
    ]

    assert codes[:10] == [400] * 10
    assert codes[10:] == [429, 429]
    response = token("alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_guessing_across_many_usernames_is_throttled_per_address(alice, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    codes = [token(f"user{i}", "nope").status_code for i in range(4)]

    assert codes == [400, 400, 400, 429]
    assert token("alice", PASSWORD).status_code == 429


def test_with_one_trusted_proxy_the_address_it_added_counts_not_the_clients_claims(alice, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    settings.LOGIN_FAILURES_PER_USERNAME = 100
    codes = [
        page_login(
            Client(), f"user{i}", "nope", HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 192.0.2.50"
        ).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    # Another client behind the same proxy is not locked out.
    other = page_login(Client(), "alice", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.51")
    assert other.status_code == 302


def test_the_client_address_ignores_x_forwarded_for_without_trusted_proxies(settings):
    meta = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.2"}
    assert client_address(meta) == "192.0.2.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(meta) == "198.51.100.2"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(meta) == "203.0.113.9"
    settings.TRUSTED_PROXY_COUNT = 5
    assert client_address(meta) == "203.0.113.9"


def test_while_the_cache_is_down_logins_fail_closed_with_a_503(alice):
    with override_settings(CACHES=CLOSED_PORT_CACHE):
        page = page_login(Client(), "alice", PASSWORD)
        api = token("alice", PASSWORD)

    assert page.status_code == 503
    assert b"Logging in is unavailable for a moment" in page.content
    assert api.status_code == 503
    assert "cannot be reached" in api.json()["detail"]
