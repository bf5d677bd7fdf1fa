"""Pages of labeling and review. A task's page carries its payload (so it draws at once);
"Start labeling" is a shell whose script asks the queue, and every later task (submit, skip,
next) is loaded through the API without a page load."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ..models import AnnotationTask, Project
from ..permissions import can, get_object_for
from ..selectors_labeling import task_payload, tasks_to_review


def _page_config(project: Project, user, *, mode: str, task_id: int | None) -> dict:
    """What the script needs to find its endpoints ({id} is filled in by the page); the
    paths are those of annotate.labeling.api_urls and activelearn.api.urls."""
    return {
        "mode": mode,
        "project": project.pk,
        "task": task_id,
        "user": user.get_username(),
        "urls": {
            "project": reverse("project-detail", args=[project.pk]),
            "login": reverse("login"),
            "next": f"/api/projects/{project.pk}/tasks/next/",
            "payload": "/api/tasks/{id}/payload/",
            "annotation": "/api/tasks/{id}/annotation/",
            "submit": "/api/tasks/{id}/submit/",
            "skip": "/api/tasks/{id}/skip/",
            "heartbeat": "/api/tasks/{id}/heartbeat/",
            "review": "/api/tasks/{id}/review/",
            "propagations": "/api/tasks/{id}/propagations/",
            "label_page": "/tasks/{id}/label/",
            "review_page": "/tasks/{id}/review/",
            "review_list": reverse("review-list", args=[project.pk]),
            "label_next_page": "/projects/{id}/label/",
        },
    }


def _task_context(task: AnnotationTask, user, config: dict) -> dict:
    """The task's payload goes into the page itself and its first image is preloaded, so
    a task opened by its address needs no API round trip before the image arrives."""
    payload = task_payload(task, user)
    frames = payload["media"]["frames"]
    return {
        "project": task.project,
        "task": task,
        "config": config,
        "task_payload": payload,
        "preload_image": frames[0]["url"] if frames else None,
    }


@login_required
def label_next(request: HttpRequest, pk: int) -> HttpResponse:
    """Start labeling: the page asks the project's queue for the next task."""
    project = get_object_for(request.user, "project.view", Project.objects, pk=pk)
    if not can(request.user, "task.claim", project):
        raise PermissionDenied("Your role in this project does not label.")
    config = _page_config(project, request.user, mode="label", task_id=None)
    return render(request, "annotate/label.html", {"project": project, "config": config})


@login_required
def task_label(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_for(
        request.user, "task.label", AnnotationTask.objects.select_related("project"), pk=pk
    )
    config = _page_config(task.project, request.user, mode="label", task_id=task.pk)
    return render(request, "annotate/label.html", _task_context(task, request.user, config))


@login_required
def task_review(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_for(
        request.user, "task.review", AnnotationTask.objects.select_related("project"), pk=pk
    )
    config = _page_config(task.project, request.user, mode="review", task_id=task.pk)
    return render(request, "annotate/review.html", _task_context(task, request.user, config))


@login_required
def review_list(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_for(request.user, "project.view", Project.objects, pk=pk)
    may_review = can(request.user, "task.review", project) or request.user.is_superuser
    tasks = list(tasks_to_review(request.user, project)[:500]) if may_review else []
    return render(
        request,
        "annotate/review_list.html",
        {"project": project, "tasks": tasks, "may_review": may_review},
    )
