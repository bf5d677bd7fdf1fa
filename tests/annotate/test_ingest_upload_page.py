"""The drag-and-drop upload page: managers get the form and its script config; the XHR post
answers per-file JSON; annotators get 403 and other projects' members 404."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotate.models import Asset
from tests.annotate.ingest_media import jpeg_bytes

pytestmark = pytest.mark.django_db


def test_a_manager_sees_the_upload_form_with_its_script_config(client, pat, project):
    client.force_login(pat)

    response = client.get(reverse("asset-upload", args=[project.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file" name="files" multiple' in html
    assert "csrfmiddlewaretoken" in html
    assert "annotate/upload.js" in html
    config = re.search(r'<script id="upload-config" type="application/json">(.*?)</script>', html)
    assert json.loads(config.group(1))["url"] == f"/projects/{project.pk}/upload/"


def test_the_xhr_post_answers_per_file_results_as_json(client, pat, project, media_root):
    client.force_login(pat)

    response = client.post(
        reverse("asset-upload", args=[project.pk]),
        {
            "files": [
                SimpleUploadedFile("a.jpg", jpeg_bytes(seed=1)),
                SimpleUploadedFile("b.jpg", b""),
            ]
        },
        headers={"x-requested-with": "XMLHttpRequest"},
    )

    assert response.status_code == 201
    assert [r["status"] for r in response.json()["results"]] == ["created", "error"]
    assert Asset.objects.filter(project=project, uploaded_by=pat).count() == 1


def test_a_plain_form_post_shows_the_results_escaped(client, pat, project, media_root):
    client.force_login(pat)

    response = client.post(
        reverse("asset-upload", args=[project.pk]),
        {"files": [SimpleUploadedFile("<img src=x onerror=alert(1)>.jpg", jpeg_bytes(seed=2))]},
    )

    assert response.status_code == 201
    html = response.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in html
    assert "<img src=x" not in html


def test_the_page_needs_csrf_for_a_browser_post(pat, project, media_root):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(pat)

    response = client.post(
        reverse("asset-upload", args=[project.pk]),
        {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(seed=3))]},
    )

    assert response.status_code == 403
    assert not Asset.objects.exists()


def test_an_annotator_gets_403(client, alice, project):
    client.force_login(alice)

    assert client.get(reverse("asset-upload", args=[project.pk])).status_code == 403


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_a_member_of_another_project_gets_404(client, carol, project, method):
    client.force_login(carol)

    response = getattr(client, method)(reverse("asset-upload", args=[project.pk]))

    assert response.status_code == 404
