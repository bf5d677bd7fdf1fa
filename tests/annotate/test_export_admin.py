"""The admin's "Export as ..." actions queue a job per project the user may export, and the
job lists show only the user's projects."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import path

from annotate import tasks
from annotate.admin_exchange import EXPORT_ACTIONS, register_exchange_admin
from annotate.models import Project
from annotate.models.exchange_jobs import ExportJob
from tests.conftest import PASSWORD

from .exchange_builders import labeled_project

site = admin.AdminSite(name="exchange_test_admin")


class ProjectAdmin(admin.ModelAdmin):
    actions = EXPORT_ACTIONS


site.register(Project, ProjectAdmin)
register_exchange_admin(site)
urlpatterns = [path("admin/", site.urls)]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


def test_export_action_queues_one_job_per_selected_project(client, superuser, project):
    labeled_project(project)
    client.force_login(superuser)
    answer = client.post(
        "/admin/annotate/project/",
        {"action": "export_yolo", "_selected_action": [project.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    assert "YOLO export queued for Pedestrians" in answer.content.decode()
    job = ExportJob.objects.get()
    assert (job.project, job.format, job.state) == (project, "yolo", "queued")
    tasks.export_run.apply(args=[job.pk])
    listing = client.get("/admin/annotate/exportjob/").content.decode()
    assert "100%" in listing and f"pedestrians-yolo-{job.pk}.zip" in listing


def test_job_list_shows_only_projects_the_manager_may_export(client, pat, project, other_project):
    ExportJob.objects.create(project=project, format="coco")
    ExportJob.objects.create(project=other_project, format="mot")
    client.login(username="pat", password=PASSWORD)
    listing = client.get("/admin/annotate/exportjob/")
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset.values_list("format", flat=True)) == ["coco"]
