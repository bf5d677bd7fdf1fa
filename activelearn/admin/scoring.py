"""Admin of model versions (an ONNX upload form checked like the API's; actions to activate
any kind of version, which starts rescoring, and to roll a project back) and scoring runs
(with their progress). Imported from activelearn.admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from activelearn.models import ModelVersion, ScoringRun
from activelearn.versions.services import (
    CheckpointError,
    checkpoint_activate,
    checkpoint_prepare,
    checkpoint_rollback,
    checkpoint_store,
)
from annotate.admin import ManagedProjectsMixin


class CheckpointUploadForm(forms.ModelForm):
    """Adding a version in the admin: the file and its spec get the API's checks (and child
    process) in clean(); the admin's save stores what was checked."""

    upload = forms.FileField(help_text="The ONNX file; checked on a dummy batch before storing.")
    spec_json = forms.JSONField(
        label="Spec",
        help_text='{"input": {"name", "size": [H, W], "layout", "channel_order", "scale", "mean", '
        '"std"}, "output": {"name", "layout": "probs" | "logits" | "embedding" | "detection" | '
        '"yolo_detect" | "yolo_pose"}, "class_names": [...], "keypoint_names": [...]}',
    )
    request = None  # set per request by ModelVersionAdmin.get_form
    prepared: tuple[ModelVersion, bytes] | None = None

    class Meta:
        model = ModelVersion
        fields = ["project", "name", "notes"]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.prepared = checkpoint_prepare(
                project=data["project"],
                user=self.request.user,
                name=data["name"],
                file=data["upload"],
                spec=data["spec_json"],
                notes=data.get("notes", ""),
            )
        except CheckpointError as error:
            for field, problems in error.errors.items():
                target = {"file": "upload", "name": "name"}.get(field)
                if target is None and field.startswith("spec"):
                    target = "spec_json"
                for problem in problems:
                    self.add_error(target, problem if target else f"{field}: {problem}")
        return data


@admin.register(ModelVersion)
class ModelVersionAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    change_action = "model.manage"
    delete_action = "model.manage"
    list_display = ("name", "project", "kind", "task_type", "is_active", "created_at")
    list_filter = ("project", "kind", "task_type", "is_active")
    search_fields = ("name", "project__name")
    # The file and its spec change only through an upload, which checks them.
    readonly_fields = ("kind", "file", "spec", "sha256", "is_active", "activated_at", "created_at")
    actions = ["activate", "rollback"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["project", "name", "notes", "upload", "spec_json"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = CheckpointUploadForm
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def save_model(self, request, obj, form, change) -> None:
        prepared = getattr(form, "prepared", None)
        if not change and prepared is not None:
            version, data = prepared
            checkpoint_store(version=version, data=data)
            obj.pk = version.pk
            obj.refresh_from_db()
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Activate the selected version (and rescore its project)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = queryset.select_related("project").get()
        try:
            run = checkpoint_activate(version=version)
        except CheckpointError as error:
            for problems in error.errors.values():
                for problem in problems:
                    self.message_user(
                        request, f"{version} was not activated: {problem}", messages.ERROR
                    )
            return
        self.message_user(request, f"{version} is active; scoring run {run.pk} started.")

    @admin.action(
        description="Roll back its project (to the version active before, else the newest "
        "built-in baseline, else no model)"
    )
    def rollback(self, request, queryset) -> None:
        projects = {version.project for version in queryset.select_related("project")}
        for project in projects:
            try:
                rollback = checkpoint_rollback(project=project)
            except CheckpointError as error:
                problem = " ".join(m for ms in error.errors.values() for m in ms)
                self.message_user(request, f"{project}: {problem}", messages.ERROR)
                continue
            self.message_user(
                request, f"{project}: {rollback.message} Scoring run {rollback.scoring_run.pk}."
            )


@admin.register(ScoringRun)
class ScoringRunAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ("id", "project", "model_version", "reason", "state", "chunks", "created_at")
    list_filter = ("state", "reason", "project")
    readonly_fields = [field.name for field in ScoringRun._meta.fields]

    # Not named "progress": the job model's field of that name would win over it.
    @admin.display(description="progress")
    def chunks(self, run: ScoringRun) -> str:
        return f"{run.chunks_done}/{run.chunks_total} chunks, {run.tasks_scored} tasks"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
