"""An upload puts its new tasks in the queue: a scoring run starts (cold start without a model)."""

import io

import pytest
from PIL import Image

from activelearn.models import ScoringRun
from annotate.ingest.services import ingest_files


def _jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.django_db
def test_uploaded_images_start_a_cold_start_run(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_files(
            project=project,
            files=[("a.jpg", io.BytesIO(_jpeg("red"))), ("b.jpg", io.BytesIO(_jpeg("blue")))],
        )
    run = ScoringRun.objects.get(project=project)
    assert run.reason == ScoringRun.Reason.COLD_START


@pytest.mark.django_db
def test_only_duplicates_start_no_run(project, django_capture_on_commit_callbacks):
    data = _jpeg("green")
    with django_capture_on_commit_callbacks(execute=True):
        ingest_files(project=project, files=[("a.jpg", io.BytesIO(data))])
    ScoringRun.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        ingest_files(project=project, files=[("again.jpg", io.BytesIO(data))])
    assert not ScoringRun.objects.exists()
