"""Admin for exports and imports: "Export as COCO/YOLO/MOT/CVAT" actions for the Project admin,
and the lists of export and import jobs with their progress, download link and errors.

annotate/admin.py wires it: `actions = [*EXPORT_ACTIONS]` on ProjectAdmin, and
`register_exchange_admin(admin.site)`.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from annotate.models.exchange_jobs import ExportJob, ImportJob, JobState

from .exchange import services
from .models import Project
from .permissions import can, visible


def _export_action(format: str, label: str):
    def action(modeladmin, request, queryset: QuerySet[Project]) -> None:
        started, refused = [], []
        for project in queryset:
            if not can(request.user, "export.run", project):
                refused.append(project.name)
                continue
            services.export_create(project=project, user=request.user, format=format)
            started.append(project.name)
        if started:
            modeladmin.message_user(
                request,
                f"{label} export queued for {', '.join(started)}; follow it under Export jobs.",
                messages.SUCCESS,
            )
        if refused:
            modeladmin.message_user(
                request, f"You may not export {', '.join(refused)}.", messages.WARNING
            )

    action.__name__ = f"export_{format}"
    return admin.action(description=f"Export as {label} (accepted tasks)")(action)


EXPORT_ACTIONS = [
    _export_action("coco", "COCO"),
    _export_action("yolo", "YOLO"),
    _export_action("mot", "MOTChallenge"),
    _export_action("cvat", "CVAT video XML"),
]


class JobAdminBase(admin.ModelAdmin):
    """Jobs are records of what ran: read-only, listed for the projects the user may run
    them in."""

    action_name = "export.run"
    list_select_related = ["project", "created_by"]
    list_filter = ["state", "format"]

    def _projects(self, request):
        return visible(request.user, self.action_name, Project.objects.all())

    def get_queryset(self, request):
        return super().get_queryset(request).filter(project__in=self._projects(request))

    def has_module_permission(self, request):
        return (
            request.user.is_active
            and request.user.is_staff
            and (request.user.is_superuser or self._projects(request).exists())
        )

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    @admin.display(description="Progress")
    def progress_percent(self, job) -> str:
        return f"{job.progress:.0%}"


class ExportJobAdmin(JobAdminBase):
    list_display = [
        "id",
        "project",
        "format",
        "state_filter",
        "phase",
        "state",
        "progress_percent",
        "created_by",
        "created_at",
        "download",
    ]

    @admin.display(description="File")
    def download(self, job: ExportJob) -> str:
        if job.state != JobState.DONE or not job.file:
            return job.error or "-"
        try:
            url = reverse("api-export-download", args=[job.pk])
        except NoReverseMatch:
            return job.download_name
        return format_html('<a href="{}">{}</a>', url, job.download_name or "download")


class ImportJobAdmin(JobAdminBase):
    action_name = "import.run"
    list_display = [
        "id",
        "project",
        "format",
        "mode",
        "model_version_name",
        "state",
        "progress_percent",
        "records_imported",
        "records_failed",
        "created_at",
    ]
    readonly_fields = ["error", "errors"]


def register_exchange_admin(site: admin.AdminSite) -> None:
    site.register(ExportJob, ExportJobAdmin)
    site.register(ImportJob, ImportJobAdmin)
