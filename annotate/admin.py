"""The admin for project managers: every annotate model, limited to the projects the staff
user manages (superusers see all), plus a User admin in which nobody but a superuser can
hand out rights (superuser, staff, groups, permissions).

Which rows a manager sees and may change comes from annotate.permissions, like everywhere
else. User text reaches these pages escaped: plain strings or format_html, never mark_safe.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.html import format_html

from .admin_exchange import EXPORT_ACTIONS, register_exchange_admin
from .admin_quality import mark_gold, register_quality_admin
from .counting import BoundedCountPaginator
from .models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Budget,
    BudgetLedger,
    Frame,
    KeypointInstance,
    LabelClass,
    Membership,
    Project,
    Review,
    TaskLease,
    Track,
    task_priority_expression,
)
from .permissions import SCOPES, can, visible
from .queue.priorities import priorities_write_bulk, priority_of
from .schema import SKELETON_PRESETS, skeleton_preset
from .selectors import budget_spent, budget_spent_from_stats, project_stats
from .services import projects as project_services

User = get_user_model()


def _money(amount) -> str:
    return f"{amount:.2f}"


def _spent_text(spend, currency: str) -> str:
    if spend is None:
        return "no budget"
    money = f"{_money(spend.money_spent)}"
    money += f" / {_money(spend.money_limit)}" if spend.money_limit is not None else " / no cap"
    tasks = f"{spend.tasks_spent}" + (
        f" / {spend.task_limit} tasks" if spend.task_limit is not None else " tasks"
    )
    saved = ""
    if spend.points_prefilled or spend.boxes_prefilled:
        saved = (
            f"; partial labeling saved {_money(spend.money_saved)} {currency} "
            f"({spend.points_prefilled} points pre-filled, {spend.points_by_hand} by hand)"
        )
    return f"{money} {currency}; {tasks}{saved}"


class ManagedProjectsMixin:
    """Rows of the projects the user manages, for any model that belongs to a project.

    `change_action` and `delete_action` are the permission-table actions a row needs;
    foreign keys to project-owned models offer only rows of managed projects, so a manager
    cannot move anything into a project that is not theirs.
    """

    change_action = "project.change"
    delete_action = "project.change"
    # No COUNT(*) of the whole table on every view of a list (annotate.counting).
    paginator = BoundedCountPaginator
    show_full_result_count = False
    # Fifty rows, not the admin's hundred: once the rows come from an index, rendering them
    # (the cells, links, the action checkbox's widget template) is what a page costs, 1 to
    # 3 ms a row on a busy 2-core machine.
    list_per_page = 50

    def get_queryset(self, request):
        return visible(request.user, "project.admin", super().get_queryset(request))

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or can(request.user, self.change_action, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or can(request.user, self.delete_action, obj))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if any(cls in SCOPES for cls in related.__mro__):
            kwargs["queryset"] = visible(
                request.user, "project.admin", related._default_manager.all()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ManagedProjectFilter(admin.RelatedFieldListFilter):
    """Filter a list by project: the projects the user manages, read from the projects
    table (RelatedOnlyFieldListFilter reads every row of the list to find them)."""

    def field_choices(self, field, request, model_admin):
        projects = visible(request.user, "project.admin", Project.objects.order_by("name"))
        return [(project.pk, str(project)) for project in projects]


class ReadOnlyMixin:
    """Versions and shapes are history: nothing here is edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Projects


class ProjectAdminForm(forms.ModelForm):
    apply_preset = forms.ChoiceField(
        label="Apply skeleton preset",
        required=False,
        choices=[("", "— keep the skeleton below —")]
        + [(name, preset["label"]) for name, preset in SKELETON_PRESETS.items()],
        help_text="Replaces the skeleton with a preset when saved (COCO-17 brings COCO's "
        'per-keypoint OKS sigmas). Edit a skeleton\'s "sigmas" below: one positive number '
        "per keypoint.",
    )

    class Meta:
        model = Project
        fields = [
            "name",
            "description",
            "box_enabled",
            "keypoints_enabled",
            "tracks_enabled",
            "apply_preset",
            "skeleton",
            "frame_stride",
            "segment_length",
            "propagation_min_confidence",
            "propagation_below",
            "consensus_quorum",
            "agreement_iou",
        ]

    def clean(self):
        cleaned = super().clean()
        preset = cleaned.get("apply_preset")
        if preset:
            cleaned["skeleton"] = skeleton_preset(preset)
            self.errors.pop("skeleton", None)
        return cleaned


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0
    fields = ["name", "color", "hotkey", "order", "is_active", "attributes"]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: earlier annotations still name the class


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role"]
    raw_id_fields = ["user"]


class BudgetInline(admin.StackedInline):
    model = Budget
    can_delete = False
    max_num = 1
    readonly_fields = ["spent"]

    @admin.display(description="Spent (derived from submitted and reviewed tasks)")
    def spent(self, budget: Budget) -> str:
        if not budget.pk:
            return "-"
        return _spent_text(budget_spent(budget.project, budget), budget.currency)


@admin.register(Project)
class ProjectAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    form = ProjectAdminForm
    change_action = "project.change"
    delete_action = "project.change"
    list_display = ["name", "tasks_pending", "tasks_done", "spent_of_budget", "created_at"]
    actions = [*EXPORT_ACTIONS]
    list_filter = ["keypoints_enabled", "tracks_enabled", "created_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["mastered_keypoints", "created_by", "created_at"]
    inlines = [LabelClassInline, MembershipInline, BudgetInline]

    def get_queryset(self, request):
        return project_stats(super().get_queryset(request))

    @admin.display(description="Tasks pending", ordering="tasks_pending")
    def tasks_pending(self, project: Project) -> int:
        return project.tasks_pending

    @admin.display(description="Tasks done", ordering="tasks_done")
    def tasks_done(self, project: Project) -> int:
        return project.tasks_done

    @admin.display(description="Spent / budget", ordering="money_spent")
    def spent_of_budget(self, project: Project) -> str:
        spend = budget_spent_from_stats(project)
        return _spent_text(spend, project.budget.currency if spend else "")

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        # The schema is part of the form: both rights are needed to save it.
        return allowed and (obj is None or can(request.user, "schema.change", obj))

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change and not request.user.is_superuser:
            # A manager keeps access to the project they made.
            Membership.objects.get_or_create(
                project=obj, user=request.user, defaults={"role": Membership.Role.MANAGER}
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        Budget.objects.get_or_create(project=form.instance)


@admin.register(LabelClass)
class LabelClassAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    change_action = "schema.change"
    delete_action = "schema.change"
    list_display = ["name", "project", "swatch", "hotkey", "order", "is_active"]
    list_filter = ["is_active", ("project", ManagedProjectFilter)]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]

    @admin.display(description="Colour")
    def swatch(self, label_class: LabelClass) -> str:
        return format_html(
            '<span style="display:inline-block;width:1em;height:1em;background:{}"></span> {}',
            label_class.color,
            label_class.color,
        )

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead


@admin.register(Membership)
class MembershipAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    change_action = "member.manage"
    delete_action = "member.manage"
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", ("project", ManagedProjectFilter)]
    search_fields = ["user__username", "project__name"]
    list_select_related = ["user", "project"]
    raw_id_fields = ["user"]


@admin.register(Budget)
class BudgetAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    change_action = "budget.change"
    delete_action = "budget.change"
    list_display = ["project", "currency", "money_limit", "task_limit", "cost_per_image"]
    list_filter = ["currency"]
    search_fields = ["project__name"]
    list_select_related = ["project"]
    readonly_fields = ["spent"]

    @admin.display(description="Spent (derived from submitted and reviewed tasks)")
    def spent(self, budget: Budget) -> str:
        if not budget.pk:
            return "-"
        return _spent_text(budget_spent(budget.project, budget), budget.currency)


# Media


@admin.register(Asset)
class AssetAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    """Assets come in through ingestion (type sniffing, limits), never through this form."""

    change_action = "asset.delete"
    delete_action = "asset.delete"
    list_display = ["__str__", "project", "kind", "state", "preview", "size_bytes", "created_at"]
    list_filter = ["kind", "state", ("project", ManagedProjectFilter)]
    search_fields = ["original_name", "sha256", "external_key"]
    list_select_related = ["project"]
    # Newest first from the primary key (the model's order sorts by the project's name
    # through a join, every asset of the table for one page).
    ordering = ["-id"]
    readonly_fields = ["preview", "failure_reason"]
    fields = [
        "project",
        "kind",
        "original_name",
        "preview",
        "state",
        "failure_reason",
        "content_type",
        "width",
        "height",
        "fps",
        "frame_count",
        "duration",
        "sha256",
        "size_bytes",
    ]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False

    @admin.display(description="Preview")
    def preview(self, asset: Asset) -> str:
        if not asset.thumbnail:
            return "-"
        return format_html(
            '<img src="/media/assets/{}/thumbnail/" alt="{}" style="max-height:64px">',
            asset.id,
            asset.original_name,
        )

    def get_deleted_objects(self, objs, request):
        # asset.delete covers what hangs off the asset (frames, tasks, versions, shapes):
        # asset_delete removes them, so no right per related model is asked for.
        deleted, counts, _perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), []

    def delete_model(self, request, obj):
        project_services.asset_delete(asset=obj)

    def delete_queryset(self, request, queryset):
        for asset in queryset:
            project_services.asset_delete(asset=asset)


@admin.register(Frame)
class FrameAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ["asset", "index", "timestamp", "width", "height"]
    list_filter = [("asset__project", ManagedProjectFilter)]
    search_fields = ["asset__original_name"]
    list_select_related = ["asset"]
    ordering = ["asset_id", "index"]  # frame_unique_index; "asset" would join and sort


# Tasks and annotations


class AnnotationTaskForm(forms.ModelForm):
    """A task's one field set by hand, its priority, which lives in the queue's own table
    (annotate.queue.priorities)."""

    priority = forms.FloatField(help_text="Its place in the queue: higher first.")

    class Meta:
        model = AnnotationTask
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["priority"].initial = priority_of(self.instance.pk)


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    """The queue's rows. Only the priority is set by hand (written to the queue's own
    table, annotate.queue.priorities); states change through the labeling and review
    services."""

    form = AnnotationTaskForm

    change_action = "task.change"
    delete_action = "task.change"
    list_display = [
        "__str__",
        "project",
        "kind",
        "state",
        "queue_priority",
        "lease_user",
        "annotator",
        "submitted_at",
    ]
    list_filter = ["state", "kind", "is_gold", ("project", ManagedProjectFilter)]
    search_fields = ["asset__original_name", "annotator__username", "lease_user__username"]
    actions = [mark_gold]
    list_select_related = ["project", "asset", "lease_user", "annotator"]
    # A stable indexed order (task_project_list_idx; project_id, not project, which would
    # sort by the project's name through a join): a page is read from the index, with or
    # without a project filter, instead of sorting every task; the queue's order (by
    # priority) is the project's queue page.
    ordering = ["project_id", "id"]
    fields = [
        "project",
        "asset",
        "kind",
        "frame_start",
        "frame_end",
        "frame_count",
        "state",
        "priority",
        "lease_user",
        "lease_expires_at",
        "annotator",
        "skip_reason",
        "submitted_at",
        "reviewed_at",
        "is_gold",
        "gold_reference",
        "gold_of",
    ]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in self.fields if name != "priority"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "priority" in form.changed_data:
            priorities_write_bulk(
                project=obj.project_id, priorities=[(obj.pk, form.cleaned_data["priority"])]
            )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(queue_priority=task_priority_expression())

    @admin.display(description="priority", ordering="queue_priority")
    def queue_priority(self, obj):
        return getattr(obj, "queue_priority", None)

    def has_add_permission(self, request):
        return False  # tasks are made by ingestion

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Track)
class TrackAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ["__str__", "asset", "number", "label_class", "created_at"]
    list_filter = [("asset__project", ManagedProjectFilter)]
    search_fields = ["asset__original_name"]
    list_select_related = ["asset", "label_class"]
    ordering = ["asset_id", "number"]  # track_unique_number; "asset" would join and sort


class BoxInline(ReadOnlyMixin, admin.TabularInline):
    model = Box
    fields = ["frame", "label_class", "track", "x", "y", "w", "h", "source", "confidence"]
    readonly_fields = fields
    extra = 0


class KeypointInline(ReadOnlyMixin, admin.TabularInline):
    model = KeypointInstance
    fields = ["frame", "label_class", "track", "points", "source", "confidence"]
    readonly_fields = fields
    extra = 0


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ["__str__", "version", "kind", "author", "created_at"]
    list_filter = ["kind", ("task__project", ManagedProjectFilter)]
    search_fields = ["author__username", "task__asset__original_name"]
    list_select_related = ["task__asset", "author"]
    inlines = [BoxInline, KeypointInline]
    ordering = ["-id"]  # the model's ("task", ...) sorts through the tasks and projects


@admin.register(Box)
class BoxAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ["__str__", "annotation", "frame", "source", "confidence"]
    list_filter = ["source", ("annotation__task__project", ManagedProjectFilter)]
    search_fields = ["label_class__name"]
    list_select_related = ["annotation__task__asset", "label_class", "frame__asset"]


@admin.register(KeypointInstance)
class KeypointInstanceAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ["__str__", "annotation", "frame", "source", "confidence"]
    list_filter = ["source", ("annotation__task__project", ManagedProjectFilter)]
    search_fields = ["label_class__name"]
    list_select_related = ["annotation__task__asset", "label_class", "frame__asset"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ["__str__", "decision", "reviewer", "created_at"]
    list_filter = ["decision", ("task__project", ManagedProjectFilter)]
    search_fields = ["reviewer__username", "comment"]
    list_select_related = ["task__asset", "reviewer"]
    ordering = ["-id"]  # the model's ("task", ...) sorts through the tasks and projects


# Users: nobody but a superuser hands out rights, to others or to themselves.

PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


class RightsGuardedUserAdmin(UserAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += PRIVILEGE_FIELDS
        return fields

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        # Changing a superuser (say, their password) would be taking their rights.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return allowed

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return allowed


class RightsGuardedGroupAdmin(GroupAdmin):
    """A group's permissions are rights: only superusers edit them."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


# The queue's rows (annotate.queue): read-only, only the queue's services change them.


@admin.register(TaskLease)
class TaskLeaseAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ("task", "user", "slot", "state", "expires_at", "charged", "submitted_at")
    list_filter = ("state", "task__project")
    list_select_related = ("task", "task__asset", "user")
    raw_id_fields = ("task",)


@admin.register(BudgetLedger)
class BudgetLedgerAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ("project", "units", "money")
    list_filter = ("project",)


admin.site.unregister(User)
admin.site.register(User, RightsGuardedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, RightsGuardedGroupAdmin)
register_exchange_admin(admin.site)
register_quality_admin(admin.site, (ManagedProjectsMixin,), ReadOnlyMixin)
