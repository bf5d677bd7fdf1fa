"""Admin: adding a model version uploads an ONNX file through the same checks as the API."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

import activelearn.admin.scoring  # noqa: F401  (the lead imports it from activelearn.admin)
from activelearn.models import ModelVersion

from . import onnx_builders as build

pytestmark = pytest.mark.django_db

ADD = "/admin/activelearn/modelversion/add/"


@pytest.fixture
def admin_client_(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw-0123456789")
    client.force_login(user)
    return client


def post(client, project, data: bytes, spec: dict):
    return client.post(
        ADD,
        {
            "project": project.pk,
            "name": "admin-v1",
            "notes": "from the admin",
            "upload": SimpleUploadedFile("model.onnx", data),
            "spec_json": json.dumps(spec),
        },
        secure=True,
    )


def test_an_onnx_file_uploaded_in_the_admin_is_checked_and_stored(
    project, admin_client_, media_root
):
    response = post(admin_client_, project, build.classifier(), build.spec())
    assert response.status_code == 302, response.content.decode()[-2000:]
    version = ModelVersion.objects.get(name="admin-v1")
    assert (version.kind, version.notes, len(version.sha256)) == ("onnx", "from the admin", 64)


def test_a_refused_file_shows_the_reason_in_the_form(project, admin_client_, media_root):
    response = post(admin_client_, project, build.classifier(classes=3), build.spec())
    assert response.status_code == 200
    assert "3 class values, but the spec names 2 classes" in response.content.decode()
    assert not ModelVersion.objects.exists()
