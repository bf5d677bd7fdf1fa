"""The annotator statistics page of a project: who labels how fast, how well they agree, how
they score on gold tasks and how often reviewers reject their work, with who needs help."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from annotate.models import Project, QualitySettings
from annotate.permissions import get_object_for
from annotate.quality.stats import annotator_stats


@login_required
@require_safe
def annotator_stats_page(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
    context = {
        "project": project,
        "settings": QualitySettings.for_project(project.pk),
        "annotator_stats": annotator_stats(project_id=project.pk),
    }
    return render(request, "annotate/quality_annotators.html", context)
