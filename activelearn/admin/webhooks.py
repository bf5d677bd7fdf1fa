"""Admin of the retraining loop: webhook endpoints with their delivery log (read-only: only
the delivery task writes it), each delivery with its tries, and the retraining rounds.
Imported from activelearn.admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from activelearn.models import RetrainingRound, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from activelearn.webhooks.delivery import WebhookRefused, webhook_ping, webhook_url_check
from annotate.admin import ManagedProjectsMixin

# Scoped by the one access table like every project-owned row (registered here so the
# admin's querysets know the path to the project).


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["project", "url", "secret", "is_active"]
        widgets = {"secret": forms.PasswordInput(render_value=True)}

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except WebhookRefused as error:
            raise forms.ValidationError(f"This URL is refused: {error}.") from error
        return url


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(ReadOnlyInline):
    model = WebhookDelivery
    fields = ("event", "state", "attempts", "created_at", "finished_at")
    readonly_fields = fields
    ordering = ("-created_at",)


class AttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "status_code", "error", "duration_ms", "created_at")
    readonly_fields = fields
    show_change_link = False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    change_action = "model.manage"
    delete_action = "model.manage"
    form = WebhookEndpointForm
    list_display = ("url", "project", "is_active", "created_at")
    list_filter = ("project", "is_active")
    inlines = [DeliveryInline]
    actions = ["ping"]

    @admin.action(description="Send a test event (ping) to the selected endpoints")
    def ping(self, request, queryset) -> None:
        for endpoint in queryset:
            if not self.has_change_permission(request, endpoint):
                self.message_user(request, f"Not allowed: {endpoint}.", messages.ERROR)
                continue
            delivery = webhook_ping(endpoint=endpoint)
            self.message_user(request, f"Ping {delivery.pk} queued for {endpoint.url}.")


class ReadOnlyAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("event", "endpoint", "state", "attempts", "created_at", "finished_at")
    list_filter = ("state", "event", "endpoint__project")
    list_select_related = ("endpoint", "endpoint__project")
    readonly_fields = (
        "endpoint",
        "event",
        "payload",
        "state",
        "error",
        "attempts",
        "created_at",
        "started_at",
        "deadline_at",
        "finished_at",
    )
    inlines = [AttemptInline]


@admin.register(RetrainingRound)
class RetrainingRoundAdmin(ReadOnlyAdmin):
    list_display = (
        "project",
        "accepted_count",
        "state",
        "model_version",
        "activated",
        "created_at",
    )
    list_filter = ("state", "project")
    readonly_fields = [field.name for field in RetrainingRound._meta.fields]
