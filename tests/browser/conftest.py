"""Browser fixtures: Debian's chromium through Playwright against pytest-django's live
server on PostgreSQL; logged-in pages for the named users; screenshots as artifacts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are
# still plain synchronous calls between page actions.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def login(browser, live_server, request):
    """login(user) -> a new page in its own browser context, logged in as `user`."""
    from django.conf import settings
    from django.test import Client

    contexts = []
    stale = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for old in ARTIFACTS.glob(f"{stale}-*"):  # a failure of an earlier run
        if "-failed-" in old.name or "-console-" in old.name:
            old.unlink()

    def _login(user, *, context=None):
        if context is None:
            client = Client()
            client.force_login(user)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": live_server.url,
                    }
                ]
            )
            contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.console_messages = []
        page.on("console", lambda m: page.console_messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: page.console_messages.append(f"pageerror: {e}"))
        return page

    yield _login
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for i, context in enumerate(contexts):
        for j, page in enumerate(context.pages):
            if failed and not page.is_closed():
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{name}-failed-{i}-{j}.png"))
                (ARTIFACTS / f"{name}-console-{i}-{j}.txt").write_text(
                    "\n".join(page.console_messages)
                )
        context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def shot(request):
    """shot(page, "step") saves test-artifacts/<test>-<step>.png."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def _shot(page, step: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{step}.png"))

    return _shot


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """Transactional tests flush the tables after each test, so the groups a data migration
    made are gone for the next one: make them again."""
    from django.contrib.auth.models import Group, Permission

    from annotate.roles import sync_groups

    sync_groups(Group, Permission)
