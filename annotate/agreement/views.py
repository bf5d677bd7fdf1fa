"""The project's quality page: its script draws the agreement plots from the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..models import Project
from ..permissions import can, get_object_for
from ..quality.stats import annotator_stats


@login_required
def project_quality(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_for(request.user, "quality.view", Project.objects, pk=pk)
    # The annotator statistics (annotate.quality.stats): for those who manage the queue.
    stats = None
    if can(request.user, "queue.view", project):
        stats = annotator_stats(project_id=project.pk)
    return render(request, "annotate/quality.html", {"project": project, "annotator_stats": stats})
