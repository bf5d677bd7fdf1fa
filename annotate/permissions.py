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

from collections.abc import Callable

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import F, Lookup, Model, Q, QuerySet
from django.http import Http404

from .models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Budget,
    BudgetLedger,
    Frame,
    GoldAttempt,
    KeypointInstance,
    LabelClass,
    Membership,
    Project,
    QualitySettings,
    Review,
    ReviewSample,
    TaskLease,
    Track,
    holds_task,
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
    "quality.view":           (NO,       ANY,      ANY,     ANY),  # agreement, consensus
}
# fmt: on

# Who "owns" an object: a path to a user (a forward foreign key), or a function of the user
# giving a condition. Holding a task is having an active lease of it: each of a task's k
# holders has their own lease row (annotate.models.queue.TaskLease).
Owner = str | Callable[[object], Q]


def _holder(task_path: str) -> Callable[[object], Q]:
    return lambda user: holds_task(user, task_path)


# model -> (path to the project id, owners of an object)
SCOPES: dict[type[Model], tuple[str, tuple[Owner, ...]]] = {
    Project: ("id", ()),
    LabelClass: ("project_id", ()),
    Membership: ("project_id", ("user",)),
    Budget: ("project_id", ()),
    Asset: ("project_id", ()),
    Frame: ("asset__project_id", ()),
    Track: ("asset__project_id", ()),
    AnnotationTask: ("project_id", (_holder("pk"), "annotator")),
    Annotation: ("task__project_id", ("author", _holder("task"), "task__annotator")),
    Box: ("annotation__task__project_id", ("annotation__author", "annotation__task__annotator")),
    KeypointInstance: (
        "annotation__task__project_id",
        ("annotation__author", "annotation__task__annotator"),
    ),
    Review: ("task__project_id", ("task__annotator", "reviewer")),
    TaskLease: ("task__project_id", ("user",)),
    BudgetLedger: ("project_id", ()),
    # Quality control (annotate.queue.gold, annotate.queue.sampling): never an annotator's.
    QualitySettings: ("project_id", ()),
    GoldAttempt: ("gold_task__project_id", ()),
    ReviewSample: ("task__project_id", ()),
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
    TaskLease: "task.view",
    BudgetLedger: "project.view",
    QualitySettings: "queue.view",
    GoldAttempt: "queue.view",
    ReviewSample: "queue.view",
}


def register_scope(
    model: type[Model], project_path: str, owner_paths: tuple[Owner, ...] = (), view: str = ""
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


def _scope(model: type[Model]) -> tuple[str, tuple[Owner, ...]]:
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
        # One plain statement: every request asks, and next-task is the busiest endpoint
        # (building this through the ORM cost it more CPU than the query).
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT project_id, role FROM {Membership._meta.db_table}"  # noqa: S608
                " WHERE user_id = %s",
                [user.pk],
            )
            cached = dict(cursor.fetchall())
        user._roles_by_project = cached
    return cached


def remember_roles(user, roles: dict[int, str]) -> None:
    """Keep the user's roles, read with the user (annotate.auth), for the rest of the
    request, as roles_by_project would have read them."""
    user._roles_by_project = roles


def forget_roles(user) -> None:
    """Drop the cached roles after the user's memberships changed within a request."""
    user.__dict__.pop("_roles_by_project", None)


def role_in(user, project_id: int) -> str | None:
    return roles_by_project(user).get(project_id)


def visible(user, action: str, queryset: QuerySet, *, project_id: int | None = None) -> QuerySet:
    """The objects of `queryset` on which `user` may do `action`; with `project_id`, only
    those of that project.

    A list of one project's objects can say so here rather than filter afterwards: the
    condition is then that project's rule alone, not an OR of the rules of every project
    the user is in (an annotator here and a manager there), which the planner plans as a
    whole, not seeing that the filter added after rules out all but one arm."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    if project_id is not None:
        queryset = queryset.filter(**{_scope(queryset.model)[0]: project_id})
    if user.is_superuser:
        return queryset
    project_path, owner_paths = _scope(queryset.model)
    roles = roles_by_project(user)
    if project_id is not None:
        roles = {project_id: roles[project_id]} if project_id in roles else {}
    any_projects, own_projects = [], []
    for project, role in roles.items():
        level = rule(action, role)
        if level == ANY:
            any_projects.append(project)
        elif level == OWN:
            own_projects.append(project)
    condition = Q(**{f"{project_path}__in": any_projects})
    if own_projects and owner_paths:
        mine = _owned(user, queryset.model, owner_paths)
        condition |= Q(**{f"{project_path}__in": own_projects}) & mine
    return queryset.filter(condition)


class _EqualsAny(Lookup):
    """`lhs = ANY(rhs)`, rhs an array (ArraySubquery): a lookup, so it goes in a Q."""

    lookup_name = "equals_any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


def _owned(user, model: type[Model], owner_paths: tuple[Owner, ...]) -> Q:
    """The condition "the user owns the object" as index conditions: a path to a user is a
    plain comparison (`annotator_id = 7`, an index of its own); an owner function (holding
    a task: an EXISTS over the leases) is replaced by `pk = ANY(ARRAY(keys))`, the keys it
    selects read once (an InitPlan), not once per row.

    Checked on every row as an EXISTS, the OR made an annotator's first page of a
    million-task project read every task of it in id order to find their few (issue 16
    item 8). Now each arm of the OR is an index condition, so the planner reads the owner's
    rows through those indexes (a BitmapOr) when they are few, or the project in id order,
    stopping at the page's end, when they are many. Paths are forward foreign keys, so
    OR-ing them never duplicates rows."""
    mine = Q()
    for owner in owner_paths:
        if callable(owner):
            keys = model._base_manager.order_by().filter(owner(user)).values("pk")
            mine |= Q(_EqualsAny(F("pk"), ArraySubquery(keys)))
        else:
            mine |= Q(**{owner: user})
    return mine


def project_for(user, pk: int, action: str) -> Project:
    """The project, for a user who may do `action` in it: 404 unless the user is in it, 403
    unless their role may. Decided from the user's roles (one query, shared with the rest of
    the request) and the table; the project row itself is left to the caller. (get_object_for
    with "task.claim" would judge visibility by "task.view", which an annotator has only on
    their own tasks.)"""
    if user.is_superuser:
        return get_object_for(user, "project.view", Project.objects, pk=pk)
    role = role_in(user, pk)
    if role is None:
        raise Http404("Not found.")
    if rule(action, role) != ANY:
        raise PermissionDenied(f"You may not do {action} here.")
    # A membership's project exists (foreign key), so a reference by id is enough here.
    return Project(pk=pk)


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
