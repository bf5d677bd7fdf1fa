"""Object-level access: one table of role x action x ownership, and the helpers that apply it.

Every page and endpoint asks here. A user sees a project's objects only through a membership
of that project; objects of other projects do not exist for them (404, for every method).
Within a project, the table says which role may do what, on any object or only on their own.

    can(user, "task.label", task)                  -> bool
    visible(user, "task.view", AnnotationTask.objects.all())  -> queryset the user may act on
    get_object_for(user, "task.label", AnnotationTask.objects, pk=5)
        -> the task; Http404 when the user may neither view it nor do the action;
           PermissionDenied (403) when they can view it but not do the action.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from .models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Budget,
    Frame,
    KeypointInstance,
    LabelClass,
    Membership,
    Project,
    Review,
    Track,
)

ANY = "any"  # every object of the user's project
OWN = "own"  # only objects the user holds or made (see OWNERS)
NO = "-"

ROLES = (
    Membership.Role.ANNOTATOR,
    Membership.Role.REVIEWER,
    Membership.Role.MANAGER,
    Membership.Role.ML_ENGINEER,
)

# fmt: off
# action                     annotator  reviewer  manager  ml_engineer
RULES: dict[str, tuple[str, str, str, str]] = {
    "project.view":           (ANY,      ANY,      ANY,     ANY),
    "project.change":         (NO,       NO,       ANY,     NO),
    "project.admin":          (NO,       NO,       ANY,     NO),  # its rows show in the admin
    "schema.change":          (NO,       NO,       ANY,     NO),
    "member.manage":          (NO,       NO,       ANY,     NO),
    "budget.view":            (NO,       NO,       ANY,     ANY),
    "budget.change":          (NO,       NO,       ANY,     NO),
    "asset.view":             (ANY,      ANY,      ANY,     ANY),
    "asset.upload":           (NO,       NO,       ANY,     ANY),
    "asset.delete":           (NO,       NO,       ANY,     NO),
    "task.view":              (OWN,      ANY,      ANY,     ANY),
    "task.claim":             (ANY,      NO,       ANY,     NO),
    "task.label":             (OWN,      NO,       OWN,     NO),
    "task.review":            (NO,       ANY,      ANY,     NO),
    "task.change":            (NO,       NO,       ANY,     NO),
    "annotation.view":        (OWN,      ANY,      ANY,     ANY),
    "export.run":             (NO,       NO,       ANY,     ANY),
    "import.run":             (NO,       NO,       ANY,     ANY),
    "model.manage":           (NO,       NO,       ANY,     ANY),
    "queue.view":             (NO,       NO,       ANY,     ANY),
}
# fmt: on

# model -> (path to the project id, paths to the users who "own" an object)
SCOPES: dict[type[Model], tuple[str, tuple[str, ...]]] = {
    Project: ("id", ()),
    LabelClass: ("project_id", ()),
    Membership: ("project_id", ("user",)),
    Budget: ("project_id", ()),
    Asset: ("project_id", ()),
    Frame: ("asset__project_id", ()),
    Track: ("asset__project_id", ()),
    AnnotationTask: ("project_id", ("lease_user", "annotator")),
    Annotation: ("task__project_id", ("author", "task__lease_user", "task__annotator")),
    Box: ("annotation__task__project_id", ("annotation__author", "annotation__task__annotator")),
    KeypointInstance: (
        "annotation__task__project_id",
        ("annotation__author", "annotation__task__annotator"),
    ),
    Review: ("task__project_id", ("task__annotator", "reviewer")),
}


# model -> the action that decides whether one of its objects exists for a user
VIEW_ACTIONS: dict[type[Model], str] = {
    Project: "project.view",
    LabelClass: "project.view",
    Membership: "project.view",
    Budget: "project.view",
    Asset: "asset.view",
    Frame: "asset.view",
    Track: "asset.view",
    AnnotationTask: "task.view",
    Annotation: "annotation.view",
    Box: "annotation.view",
    KeypointInstance: "annotation.view",
    Review: "annotation.view",
}


def register_scope(
    model: type[Model], project_path: str, owner_paths: tuple[str, ...] = (), view: str = ""
) -> None:
    """Let another app's project-owned model be scoped by this table (annotate never
    imports those apps; they register here when Django starts)."""
    SCOPES[model] = (project_path, owner_paths)
    VIEW_ACTIONS[model] = view or "project.view"


def rule(action: str, role: str) -> str:
    try:
        row = RULES[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None
    return row[ROLES.index(role)]


def view_action(action: str, model: type[Model] | None = None) -> str:
    """The action that decides whether an object exists for the user at all: the view rule
    of the object's own kind (a task's is "task.view", whatever the action)."""
    if model is not None:
        for cls in model.__mro__:
            if cls in VIEW_ACTIONS:
                return VIEW_ACTIONS[cls]
    candidate = f"{action.split('.')[0]}.view"
    return candidate if candidate in RULES else "project.view"


def _scope(model: type[Model]) -> tuple[str, tuple[str, ...]]:
    for cls in model.__mro__:
        if cls in SCOPES:
            return SCOPES[cls]
    raise ValueError(f"no access scope for {model.__name__}")


def roles_by_project(user) -> dict[int, str]:
    """{project id: role} for the user's memberships (cached on the user object)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cached = getattr(user, "_roles_by_project", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
        user._roles_by_project = cached
    return cached


def forget_roles(user) -> None:
    """Drop the cached roles after the user's memberships changed within a request."""
    user.__dict__.pop("_roles_by_project", None)


def role_in(user, project_id: int) -> str | None:
    return roles_by_project(user).get(project_id)


def visible(user, action: str, queryset: QuerySet) -> QuerySet:
    """The objects of `queryset` on which `user` may do `action`."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    project_path, owner_paths = _scope(queryset.model)
    any_projects, own_projects = [], []
    for project_id, role in roles_by_project(user).items():
        level = rule(action, role)
        if level == ANY:
            any_projects.append(project_id)
        elif level == OWN:
            own_projects.append(project_id)
    condition = Q(**{f"{project_path}__in": any_projects})
    if own_projects and owner_paths:
        mine = Q()
        for path in owner_paths:
            mine |= Q(**{path: user})
        condition |= Q(**{f"{project_path}__in": own_projects}) & mine
    # Owner paths are forward foreign keys: OR-ing them never duplicates rows.
    return queryset.filter(condition)


def can(user, action: str, obj: Model) -> bool:
    return visible(user, action, type(obj)._default_manager.filter(pk=obj.pk)).exists()


def get_object_for(user, action: str, queryset, **lookup) -> Model:
    """Fetch an object for an action: 404 if the user may not see it, 403 if they may see it
    but not do the action."""
    if not isinstance(queryset, QuerySet):
        queryset = queryset.all()
    viewing = view_action(action, queryset.model)
    obj = visible(user, viewing, queryset).filter(**lookup).first()
    if obj is None and action != viewing:
        # An object the user may act on exists for them even when the view rule is narrower
        # (an annotator may claim any task of the project, but sees only their own).
        obj = visible(user, action, queryset).filter(**lookup).first()
        if obj is not None:
            return obj
    if obj is None:
        raise Http404("Not found.")
    if action != viewing and not can(user, action, obj):
        raise PermissionDenied(f"You may not do {action} here.")
    return obj
