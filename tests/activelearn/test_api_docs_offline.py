"""The API docs work offline: Swagger UI and Redoc load only our own static files (from
drf-spectacular-sidecar), never a CDN, and those files are served."""

from __future__ import annotations

import re
import urllib.request
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

# Every URL a page can load from: attributes, and any absolute address in inline scripts.
LINKED = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ABSOLUTE = re.compile(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s"'<>)]*""", re.IGNORECASE)


def page(user, path: str) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_reference_only_local_static_files_which_are_served(path, eve, live_server):
    html = page(eve, path)
    assert ABSOLUTE.findall(html) == []  # no CDN, no web fonts, no other host
    linked = [url for url in LINKED.findall(html) if not url.startswith("#")]
    assets = [url for url in linked if url.startswith("/static/")]
    assert assets, f"{path} loads no scripts of ours"
    assert all(urlsplit(url).netloc == "" for url in linked)
    assert any(url.endswith(".js") for url in assets)
    for url in assets:
        with urllib.request.urlopen(urljoin(live_server.url, url)) as response:  # noqa: S310
            assert response.status == 200
            assert len(response.read()) > 100, url


def test_the_swagger_page_loads_the_sidecars_swagger_ui(eve):
    html = page(eve, "/api/docs/")
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/api/schema/" in html


def test_the_redoc_page_loads_the_sidecars_redoc(eve):
    html = page(eve, "/api/redoc/")
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in html
