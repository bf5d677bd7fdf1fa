"""The project's quality page: its script draws the agreement plots from the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ..models import Project
from ..permissions import get_object_for


@login_required
def project_quality(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_for(request.user, "quality.view", Project.objects, pk=pk)
    return render(request, "annotate/quality.html", {"project": project})
