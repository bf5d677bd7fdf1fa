"""Admin of model versions (with an activate action that starts rescoring) and scoring runs
(with their progress). Imported from activelearn.admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from annotate.admin import ManagedProjectsMixin

from .models import ModelVersion, ScoringRun
from .scoring import rescore_project


@admin.register(ModelVersion)
class ModelVersionAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    change_action = "model.manage"
    delete_action = "model.manage"
    list_display = ("name", "project", "kind", "task_type", "is_active", "created_at")
    list_filter = ("project", "kind", "task_type", "is_active")
    search_fields = ("name", "project__name")
    readonly_fields = ("sha256", "is_active", "activated_at", "created_at")
    actions = ["activate"]

    @admin.action(description="Activate the selected version (and rescore its project)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = queryset.select_related("project").get()
        with transaction.atomic():
            ModelVersion.objects.filter(project=version.project, is_active=True).exclude(
                pk=version.pk
            ).update(is_active=False)
            ModelVersion.objects.filter(pk=version.pk).update(
                is_active=True, activated_at=timezone.now()
            )
            run = rescore_project(project=version.project, reason=ScoringRun.Reason.ACTIVATION)
        self.message_user(request, f"{version} is active; scoring run {run.pk} started.")


@admin.register(ScoringRun)
class ScoringRunAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ("id", "project", "model_version", "reason", "state", "progress", "created_at")
    list_filter = ("state", "reason", "project")
    readonly_fields = [field.name for field in ScoringRun._meta.fields]

    @admin.display(description="progress")
    def progress(self, run: ScoringRun) -> str:
        return f"{run.chunks_done}/{run.chunks_total} chunks, {run.tasks_scored} tasks"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
