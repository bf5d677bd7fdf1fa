"""The project list (home) and a project's page: its media with thumbnails and its task counts.

Both pages show only what annotate.permissions lets the user see; another project is a 404.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from ..models import AnnotationTask, Asset, Frame, Membership, Project
from ..permissions import can, get_object_for, roles_by_project, visible

ASSETS_PER_PAGE = 48
FRAMES_PER_VIDEO = 8
# A colour goes into a style attribute: only #rrggbb passes, whatever reached the database.
SAFE_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _optional_url(name: str, *args: object) -> str | None:
    """A link to a page another area provides; None while that area has no such page."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _url_if_allowed(user, action: str, name: str, project: Project) -> str | None:
    """A project page's link, only for a role that may open it: nothing shown answers 403."""
    return _optional_url(name, project.pk) if can(user, action, project) else None


def projects_for_home(user) -> QuerySet[Project]:
    """The user's projects with the counts the list shows, in one query."""
    return visible(user, "project.view", Project.objects.all()).annotate(
        asset_count=Count("assets", distinct=True),
        task_count=Count("tasks", distinct=True),
        tasks_done=Count(
            "tasks", filter=Q(tasks__state__in=AnnotationTask.State.LABELED), distinct=True
        ),
    )


def task_counts(project: Project) -> list[tuple[str, str, int]]:
    """(state, label, count) for every task state, in the workflow's order."""
    counts = dict(
        project.tasks.order_by()
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return [(state, label, counts.get(state, 0)) for state, label in AnnotationTask.State.choices]


def first_frames(assets: list[Asset], per_video: int = FRAMES_PER_VIDEO) -> dict[int, list[Frame]]:
    """The first few extracted frames of each video, in one query however many videos."""
    video_ids = [asset.pk for asset in assets if asset.kind == Asset.Kind.VIDEO]
    if not video_ids:
        return {}
    ranked = (
        Frame.objects.filter(asset_id__in=video_ids)
        .annotate(
            position=Window(RowNumber(), partition_by=[F("asset_id")], order_by=F("index").asc())
        )
        .filter(position__lte=per_video)
        .order_by("asset_id", "index")
    )
    frames: dict[int, list[Frame]] = {}
    for frame in ranked:
        frames.setdefault(frame.asset_id, []).append(frame)
    return frames


def media_url(obj: Asset | Frame) -> str | None:
    """Where the browser fetches an asset's thumbnail or a frame's image. The ingest area
    serves media (with access checks); these are its URL names and paths."""
    if isinstance(obj, Frame):
        if not obj.image:
            return None
        return _optional_url("frame-image", obj.pk) or f"/media/frames/{obj.pk}/"
    if not obj.thumbnail:
        return None
    return _optional_url("asset-thumbnail", obj.pk) or f"/media/assets/{obj.pk}/thumbnail/"


@login_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    roles = dict(Membership.Role.choices)
    my_roles = roles_by_project(request.user)
    projects = [
        (project, roles.get(my_roles.get(project.pk), "Administrator"))
        for project in projects_for_home(request.user)
    ]
    return render(request, "annotate/home.html", {"projects": projects})


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_for(request.user, "project.view", Project.objects, pk=pk)
    if request.method not in ("GET", "HEAD"):
        # After the access check, so another project's page is a 404 for every method.
        return HttpResponseNotAllowed(["GET", "HEAD"])
    assets_qs = visible(request.user, "asset.view", project.assets.all()).order_by("id")
    page = Paginator(assets_qs, ASSETS_PER_PAGE).get_page(request.GET.get("page"))
    assets = list(page.object_list)
    frames = first_frames(assets)
    counts = task_counts(project)
    role = roles_by_project(request.user).get(project.pk)
    context = {
        "project": project,
        "role_label": dict(Membership.Role.choices).get(role, "Administrator"),
        "label_classes": [
            (cls, cls.color if SAFE_COLOR.fullmatch(cls.color) else "#888888")
            for cls in project.label_classes.filter(is_active=True)
        ],
        "task_counts": counts,
        "task_total": sum(count for _, _, count in counts),
        "page": page,
        "assets": [
            {
                "asset": asset,
                "thumb_url": media_url(asset),
                "frames": [(frame, media_url(frame)) for frame in frames.get(asset.pk, [])],
            }
            for asset in assets
        ],
        "asset_total": page.paginator.count,
        "upload_url": _url_if_allowed(request.user, "asset.upload", "asset-upload", project),
        "label_url": _url_if_allowed(request.user, "task.claim", "label-next", project),
        "review_url": _url_if_allowed(request.user, "task.review", "review-list", project),
        # The loop's page and its plot, by URL name only (annotate never imports activelearn),
        # and only for the roles that may read them: nothing on the page answers 403.
        "model_url": _url_if_allowed(request.user, "queue.view", "model-queue", project),
        "exports_url": _url_if_allowed(request.user, "export.run", "project-exports", project),
        "quality_url": _url_if_allowed(request.user, "quality.view", "project-quality", project),
        "show_curve": (
            _optional_url("api-learning-curve", project.pk) is not None
            and can(request.user, "queue.view", project)
        ),
    }
    return render(request, "annotate/project_detail.html", context)
