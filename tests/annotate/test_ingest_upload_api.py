"""The upload API: many files per multipart request with token auth; per-file results;
annotators get 403 and members of other projects 404."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Asset
from tests.annotate.ingest_media import jpeg_bytes, nothing_left, png_bytes

pytestmark = pytest.mark.django_db


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _url(project) -> str:
    return f"/api/projects/{project.pk}/assets/upload/"


def _files(*pairs):
    return {"files": [SimpleUploadedFile(name, data) for name, data in pairs]}


def test_a_manager_uploads_many_files_in_one_request_with_a_token(project, pat, media_root):
    response = _token_client(pat).post(
        _url(project),
        _files(
            ("a.jpg", jpeg_bytes(seed=1)),
            ("b.jpg", jpeg_bytes(seed=2)),
            ("c.png", png_bytes()),
            ("bad.jpg", b"plain text"),
        ),
        format="multipart",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["created"], body["errors"]) == (3, 1)
    assert [r["status"] for r in body["results"]] == ["created", "created", "created", "error"]
    assert body["results"][3]["name"] == "bad.jpg"
    assert "looks like text" in body["results"][3]["message"]
    assert Asset.objects.filter(project=project).count() == 3


def test_an_ml_engineer_may_upload(project, eve, media_root):
    response = _token_client(eve).post(
        _url(project), _files(("a.jpg", jpeg_bytes(seed=1))), format="multipart"
    )

    assert response.status_code == 201


def test_nothing_stored_gives_400_with_a_message_per_file(project, pat, media_root):
    response = _token_client(pat).post(
        _url(project), _files(("x.jpg", b""), ("y.jpg", b"hello")), format="multipart"
    )

    assert response.status_code == 400
    messages = [r["message"] for r in response.json()["results"]]
    assert "empty" in messages[0] and "looks like text" in messages[1]
    assert nothing_left(media_root, project)


def test_only_duplicates_give_200_and_point_at_the_existing_asset(project, pat, media_root):
    client = _token_client(pat)
    first = client.post(_url(project), _files(("a.jpg", jpeg_bytes(seed=4))), format="multipart")

    again = client.post(_url(project), _files(("a.jpg", jpeg_bytes(seed=4))), format="multipart")

    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["results"][0]["asset_id"] == first.json()["results"][0]["asset_id"]


def test_a_request_without_files_gives_400_on_the_files_field(project, pat, media_root):
    response = _token_client(pat).post(_url(project), {}, format="multipart")

    assert response.status_code == 400
    assert "files" in response.json()


def test_an_annotator_of_the_project_gets_403(project, alice, media_root):
    response = _token_client(alice).post(
        _url(project), _files(("a.jpg", jpeg_bytes(seed=1))), format="multipart"
    )

    assert response.status_code == 403
    assert nothing_left(media_root, project)


def test_a_member_of_another_project_gets_404(project, carol, media_root):
    response = _token_client(carol).post(
        _url(project), _files(("a.jpg", jpeg_bytes(seed=1))), format="multipart"
    )

    assert response.status_code == 404
    assert nothing_left(media_root, project)


def test_without_credentials_the_upload_is_refused(project, media_root):
    response = APIClient().post(
        _url(project), _files(("a.jpg", jpeg_bytes(seed=1))), format="multipart"
    )

    assert response.status_code in (401, 403)
    assert nothing_left(media_root, project)
