"""The admin's quality control: each project's quality settings (with its annotator
statistics), gold attempts and the review sample (read-only), and the task action that marks
gold. Registered by annotate/admin.py."""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .models import GoldAttempt, QualitySettings, ReviewSample
from .permissions import can
from .quality.stats import annotator_stats
from .queue.gold import GoldRefused, task_mark_gold
from .services.errors import ServiceError


@admin.action(description="Mark as gold (reference: the accepted annotation or the import)")
def mark_gold(modeladmin, request, queryset):
    marked = 0
    for task in queryset:
        if not can(request.user, "task.change", task):
            continue
        try:
            task_mark_gold(task=task)
            marked += 1
        except (GoldRefused, ServiceError) as error:
            reasons = [m for ms in error.detail.get("errors", {}).values() for m in ms]
            text = " ".join(reasons) or error.message
            modeladmin.message_user(request, f"{task}: {text}", messages.WARNING)
    modeladmin.message_user(request, f"{marked} task(s) marked gold.")


def register_quality_admin(site, mixins: tuple, read_only: type) -> None:
    """Register the quality models with the admin's project scoping (`mixins`)."""

    class QualitySettingsAdmin(*mixins, admin.ModelAdmin):
        list_display = ("project", "gold_share", "review_share", "statistics")
        fields = ("project", *QualitySettings.EDITABLE_FIELDS)

        @admin.display(description="Annotators")
        def statistics(self, obj: QualitySettings) -> str:
            url = reverse("admin:annotate_qualitysettings_annotators", args=[obj.pk])
            return format_html('<a href="{}">Statistics</a>', url)

        def get_urls(self):
            own = [
                path(
                    "<int:pk>/annotators/",
                    self.admin_site.admin_view(self.annotators_view),
                    name="annotate_qualitysettings_annotators",
                )
            ]
            return own + super().get_urls()

        def annotators_view(self, request, pk: int):
            settings = get_object_or_404(self.get_queryset(request), pk=pk)
            context = {
                **self.admin_site.each_context(request),
                "title": f"Annotators of {settings.project}",
                "settings": settings,
                "annotator_stats": annotator_stats(project_id=settings.project_id),
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/annotate/annotator_stats.html", context)

    class GoldAttemptAdmin(read_only, *mixins, admin.ModelAdmin):
        list_display = ("gold_task", "annotator", "score", "metric", "passed", "sent_to_review")
        list_filter = ("passed", "gold_task__project")
        list_select_related = ("gold_task", "gold_task__asset", "annotator")

    class ReviewSampleAdmin(read_only, *mixins, admin.ModelAdmin):
        list_display = (
            "task",
            "picked",
            "reason",
            "weight",
            "annotator_disagreement",
            "model_disagreement",
            "annotator_quality",
            "charged",
            "second_review",
        )
        list_filter = ("picked", "reason", "task__project")
        list_select_related = ("task", "task__asset")

    site.register(QualitySettings, QualitySettingsAdmin)
    site.register(GoldAttempt, GoldAttemptAdmin)
    site.register(ReviewSample, ReviewSampleAdmin)
