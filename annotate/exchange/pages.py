"""The Exports page of a project: start an export in any format, watch it, download it; start
an import (ground truth or predictions) and read its per-record report. The page's script
talks to the exchange API (annotate.exchange.api); this view only decides who may see what.

Access: "export.run" (project managers and ML engineers); an annotator or reviewer of the
project gets 403, anyone else 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse

from annotate.models import Project
from annotate.models.exchange_jobs import ExchangeFormat, ExportJob, ImportJob, JobState
from annotate.permissions import can, get_object_for

from .services import IMAGE_FORMATS, IMPORT_FORMATS, SKELETON_FORMATS

POLL_SECONDS = 2


def page_config(request: HttpRequest, project: Project) -> dict:
    may_import = can(request.user, "import.run", project)
    formats = dict(ExchangeFormat.choices)
    return {
        "project": project.pk,
        "poll_seconds": POLL_SECONDS,
        "urls": {
            "exports": reverse("api-export-list", args=[project.pk]),
            "imports": reverse("api-import-list", args=[project.pk]) if may_import else None,
        },
        # The export options that apply to some formats only: shown for those.
        "skeleton_formats": list(SKELETON_FORMATS),
        "image_formats": list(IMAGE_FORMATS),
        "labels": {
            "formats": formats,
            "skeletons": dict(ExportJob.Skeletons.choices),
            "states": dict(JobState.choices),
            "modes": dict(ImportJob.Mode.choices),
        },
    }


@login_required
def project_exports(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_for(request.user, "export.run", Project.objects, pk=pk)
    if request.method not in ("GET", "HEAD"):
        # After the access check, so another project's page is a 404 for every method.
        return HttpResponseNotAllowed(["GET", "HEAD"])
    config = page_config(request, project)
    return render(
        request,
        "annotate/exports.html",
        {
            "project": project,
            "config": config,
            "may_import": config["urls"]["imports"] is not None,
            "formats": ExchangeFormat.choices,
            "import_formats": [
                (value, label) for value, label in ExchangeFormat.choices if value in IMPORT_FORMATS
            ],
            "state_filters": ExportJob.StateFilter.choices,
            "phases": ExportJob.Phase.choices,
            "skeleton_modes": ExportJob.Skeletons.choices,
            "modes": ImportJob.Mode.choices,
        },
    )
