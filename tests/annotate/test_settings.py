"""Settings read the environment strictly and are safe for production by default.

Each production case runs in a child process: settings are read once per process.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_bool, env_secret

ROOT = Path(__file__).resolve().parents[2]
# Variables the test run sets that a production environment would not.
TEST_ONLY = {
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests' Playwright fixtures
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_COOKIES",
    "STATIC_MANIFEST",
    "SECURE_HSTS_PRELOAD",
    "TEST_DB_NAME",
}


def production_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("value", ["yes", "y", "enabled", "2", "True!"])
def test_env_bool_refuses_yes_ish_values(monkeypatch, value):
    monkeypatch.setenv("SOME_FLAG", value)
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("ON", True), (" 0 ", False), ("false", False), ("", False)],
)
def test_env_bool_reads_the_documented_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env_bool("SOME_FLAG", default=not expected) is expected


def test_env_bool_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert env_bool("SOME_FLAG", default=True) is True


def test_env_secret_reads_the_file_named_by_name_file(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    monkeypatch.setenv("SOME_SECRET", "from-the-environment")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret_file))
    assert env_secret("SOME_SECRET") == "from-a-file"


def test_secret_key_is_required_when_debug_is_off():
    result = run_python("import config.settings", production_env(SECRET_KEY=None))
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_debug_without_a_secret_key_starts():
    result = run_python(
        "import config.settings as s; print(s.DEBUG, len(s.SECRET_KEY) > 0)",
        production_env(DEBUG="1", SECRET_KEY=None),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"


def test_a_yes_ish_debug_value_stops_the_start():
    result = run_python("import config.settings", production_env(DEBUG="yes"))
    assert result.returncode != 0
    assert "DEBUG='yes'" in result.stderr


def test_production_defaults_are_safe():
    result = run_python(
        "import config.settings as s; "
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)",
        production_env(ALLOWED_HOSTS=None),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False [] True True True True"


def test_deploy_check_passes_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "System check identified no issues" in output
