"""The Model & queue page: model versions (upload, activate, roll back), scoring runs with
their progress, the ranked queue, the learning curve, the budget burn-down and, on keypoint
projects, each keypoint's error by version (joint mastery).

The page is for the roles that may read the queue ("queue.view"); an annotator or reviewer of
the project gets 403, anyone else 404. Everything the page fetches is decided here, from the
same table, so no request behind it answers 4xx for the role that loads it.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse

from activelearn.models import ModelVersion, ScoringRun
from annotate.models import Project
from annotate.permissions import can, get_object_for

POLL_SECONDS = 2
# Shown when the model's vocabulary does not (yet) name a state: a run replaced by a newer one.
EXTRA_RUN_STATES = {"superseded": "Superseded"}


def page_config(request: HttpRequest, project: Project) -> dict:
    """What the page's scripts need: endpoints, what this user may do, and the words for
    each state, reason and kind (the models' own labels, so the page and the admin agree)."""
    user = request.user
    may_manage = can(user, "model.manage", project)
    may_see_budget = can(user, "budget.view", project)
    return {
        "project": project.pk,
        "poll_seconds": POLL_SECONDS,
        "may_manage": may_manage,
        "urls": {
            "versions": reverse("api-checkpoints", args=[project.pk]) if may_manage else None,
            "rollback": reverse("api-checkpoint-rollback", args=[project.pk]),
            "activate": reverse("api-checkpoint-activate", args=[0]),
            "runs": reverse("api-scoring-runs", args=[project.pk]),
            "queue": reverse("api-queue", args=[project.pk]),
            "audit": reverse("api-audit", args=[project.pk]),
            "joints": (
                reverse("api-joint-metrics", args=[project.pk])
                if project.keypoints_enabled
                else None
            ),
            "burndown": (
                reverse("api-budget-burndown", args=[project.pk]) if may_see_budget else None
            ),
        },
        "labels": {
            "kinds": dict(ModelVersion.Kind.choices),
            "task_types": dict(ModelVersion.TaskType.choices),
            "run_states": {**EXTRA_RUN_STATES, **dict(ScoringRun.State.choices)},
            "reasons": dict(ScoringRun.Reason.choices),
        },
    }


@login_required
def model_queue(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
    if request.method not in ("GET", "HEAD"):
        # After the access check, so another project's page is a 404 for every method.
        return HttpResponseNotAllowed(["GET", "HEAD"])
    config = page_config(request, project)
    return render(
        request,
        "activelearn/model_queue.html",
        {
            "project": project,
            "config": config,
            "may_manage": config["may_manage"],
            "show_burndown": config["urls"]["burndown"] is not None,
        },
    )
