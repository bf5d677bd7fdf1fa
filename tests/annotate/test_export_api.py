"""The export and import endpoints: 202 with a job, progress and a download link once a
worker ran it, a streamed download, and the project's access rules (404 outside it)."""

from __future__ import annotations

import json

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

from annotate import tasks
from annotate.models.exchange_jobs import ExportJob, ImportJob

from .exchange_builders import fresh_copy, labeled_project

# The lead mounts annotate.exchange.api_urls under /api/; these tests mount it themselves.
urlpatterns = [path("api/", include("annotate.exchange.api_urls"))]
pytestmark = pytest.mark.urls(__name__)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def labeled(project):
    return labeled_project(project)


def test_manager_starts_an_export_and_downloads_it_when_done(project, labeled, pat):
    client = client_for(pat)
    answer = client.post(
        f"/api/projects/{project.pk}/exports/", {"format": "coco", "state": "accepted"}
    )
    assert answer.status_code == 202
    job_id = answer.json()["id"]
    assert answer.json()["state"] == "queued" and answer.json()["download_url"] is None

    assert tasks.export_run.apply(args=[job_id]).get() == "done"  # what the worker runs

    job = client.get(f"/api/exports/{job_id}/").json()
    assert (job["state"], job["progress"], job["tasks_total"], job["tasks_done"]) == (
        "done",
        1.0,
        3,
        3,
    )
    assert job["download_url"].endswith(f"/api/exports/{job_id}/download/")
    download = client.get(job["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/json"
    assert download["Content-Disposition"] == (
        f'attachment; filename="pedestrians-coco-{job_id}.json"'
    )
    data = json.loads(b"".join(download.streaming_content))
    assert len(data["images"]) == 8


@pytest.mark.parametrize(
    ("format", "content_type"),
    [
        ("coco", "application/json"),
        ("yolo", "application/zip"),
        ("labelstudio", "application/json"),
        ("cvat_images", "application/zip"),
    ],
)
def test_a_download_comes_in_a_content_type_the_schema_declares(
    project, labeled, pat, format, content_type
):
    """Found by schemathesis: the schema said application/octet-stream for every download."""
    from tests.schema_check import openapi

    job = client_for(pat).post(f"/api/projects/{project.pk}/exports/", {"format": format}).json()
    tasks.export_run.apply(args=[job["id"]])
    download = client_for(pat).get(f"/api/exports/{job['id']}/download/")
    assert download["Content-Type"] == content_type
    declared = openapi()["paths"]["/api/exports/{id}/download/"]["get"]["responses"]["200"]
    assert content_type in declared["content"]


def test_running_the_export_task_twice_leaves_one_file(project, labeled, eve):
    job = client_for(eve).post(f"/api/projects/{project.pk}/exports/", {"format": "yolo"}).json()
    assert tasks.export_run.apply(args=[job["id"]]).get() == "done"
    first = ExportJob.objects.get(pk=job["id"]).file.name
    assert tasks.export_run.apply(args=[job["id"]]).get() == "done"
    assert ExportJob.objects.get(pk=job["id"]).file.name == first


def test_download_before_the_job_is_done_is_a_conflict(project, pat):
    job = client_for(pat).post(f"/api/projects/{project.pk}/exports/", {"format": "mot"}).json()
    answer = client_for(pat).get(f"/api/exports/{job['id']}/download/")
    assert answer.status_code == 409


def test_bad_export_request_names_the_fields(project, pat):
    answer = client_for(pat).post(
        f"/api/projects/{project.pk}/exports/",
        {"format": "pascal", "date_from": "2026-11-02", "date_to": "2026-11-01"},
    )
    assert answer.status_code == 400
    assert "format" in answer.json()


def test_dates_in_the_wrong_order_are_refused(project, pat):
    answer = client_for(pat).post(
        f"/api/projects/{project.pk}/exports/",
        {"format": "coco", "date_from": "2026-11-02", "date_to": "2026-11-01"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"date_to": ["The end date is before the start date."]}


def test_yolo_export_with_images_carries_them_and_other_formats_refuse_the_option(
    project, labeled, pat
):
    import io
    import zipfile

    from .test_export_readers import store_real_images

    store_real_images(project)
    url = f"/api/projects/{project.pk}/exports/"
    answer = client_for(pat).post(url, {"format": "coco", "include_images": True})
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["include_images"]
    job = client_for(pat).post(url, {"format": "yolo", "include_images": True}).json()
    assert job["include_images"] is True
    assert tasks.export_run.apply(args=[job["id"]]).get() == "done"
    download = client_for(pat).get(f"/api/exports/{job['id']}/download/")
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as z:
        images = sorted(n for n in z.namelist() if n.startswith("images/"))
    assert images[:2] == ["images/b.jpg", "images/street/a.jpg"]
    assert len(images) == 2 + 6  # the two accepted images and the video's six frames


def test_cvat_export_without_skeletons_says_what_it_left_out(project, labeled, pat):
    import io
    import zipfile

    url = f"/api/projects/{project.pk}/exports/"
    refused = client_for(pat).post(url, {"format": "coco", "skeletons": "omit"})
    assert refused.status_code == 400
    assert list(refused.json()["errors"]) == ["skeletons"]
    assert client_for(pat).post(url, {"format": "cvat", "skeletons": "bones"}).status_code == 400

    job = client_for(pat).post(url, {"format": "cvat_images", "skeletons": "omit"}).json()
    assert (job["skeletons"], job["summary"]) == ("omit", [])
    assert tasks.export_run.apply(args=[job["id"]]).get() == "done"
    done = client_for(pat).get(f"/api/exports/{job['id']}/").json()
    assert [(line["kind"], line["count"]) for line in done["summary"]] == [("skeleton", 2)]
    assert done["summary"][0]["message"].startswith("2 skeleton(s) left out")
    download = client_for(pat).get(done["download_url"])
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as z:
        xml = z.read("annotations.xml").decode()
    assert xml.count("<box ") == 2 and "skeleton" not in xml

    job = client_for(pat).post(url, {"format": "cvat", "skeletons": "points"}).json()
    assert tasks.export_run.apply(args=[job["id"]]).get() == "done"
    assert client_for(pat).get(f"/api/exports/{job['id']}/").json()["summary"] == []


def test_annotator_may_not_export(project, alice):
    answer = client_for(alice).post(f"/api/projects/{project.pk}/exports/", {"format": "coco"})
    assert answer.status_code == 403


def test_export_of_another_project_does_not_exist_for_its_outsiders(project, labeled, pat, carol):
    answer = client_for(carol).post(f"/api/projects/{project.pk}/exports/", {"format": "coco"})
    assert answer.status_code == 404
    job = client_for(pat).post(f"/api/projects/{project.pk}/exports/", {"format": "coco"}).json()
    tasks.export_run.apply(args=[job["id"]])
    assert client_for(carol).get(f"/api/exports/{job['id']}/").status_code == 404
    assert client_for(carol).get(f"/api/exports/{job['id']}/download/").status_code == 404


def test_ml_engineer_imports_a_file_and_sees_the_result(project, eve, other_project):
    fresh_copy(project)
    labeled_project(other_project)
    source = exported_upload(other_project)
    answer = client_for(eve).post(
        f"/api/projects/{project.pk}/imports/",
        {"file": source, "format": "coco", "as": "ground_truth"},
        format="multipart",
    )
    assert answer.status_code == 202, answer.json()
    job_id = answer.json()["id"]
    assert tasks.import_run.apply(args=[job_id]).get() == "done"
    job = client_for(eve).get(f"/api/imports/{job_id}/").json()
    assert (job["state"], job["records_imported"], job["tasks_written"]) == ("done", 8, 3)
    assert job["errors"] == []


def exported_upload(project):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotate.exchange.selectors import ExportFilter
    from annotate.exchange.services import export_write

    out = io.BytesIO()
    export_write(project=project, format="coco", export_filter=ExportFilter(), out=out)
    return SimpleUploadedFile("labels.json", out.getvalue(), content_type="application/json")


def test_import_of_predictions_needs_a_model_version_name(project, eve):
    answer = client_for(eve).post(
        f"/api/projects/{project.pk}/imports/",
        {"file": exported_upload(project), "format": "coco", "as": "predictions"},
        format="multipart",
    )
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "model_version": ["Predictions are stored under a model version name."]
    }
    assert not ImportJob.objects.exists()


def test_import_needs_import_run_and_membership(project, alice, carol):
    for user, status in ((alice, 403), (carol, 404)):
        answer = client_for(user).post(
            f"/api/projects/{project.pk}/imports/",
            {"file": exported_upload(project), "format": "coco"},
            format="multipart",
        )
        assert answer.status_code == status


def test_unknown_import_format_is_refused(project, pat):
    answer = client_for(pat).post(
        f"/api/projects/{project.pk}/imports/",
        {"file": exported_upload(project), "format": "pascal_voc"},
        format="multipart",
    )
    assert answer.status_code == 400
    assert "format" in answer.json()


def test_the_endpoints_add_no_openapi_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "schema warnings or errors"
    assert "/api/projects/{id}/exports/" in schema["paths"]
