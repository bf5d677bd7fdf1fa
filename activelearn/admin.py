"""Admin of the active-learning app: learning settings per project, and the queue's leases
and budget ledger (read-only: only the queue's services change them)."""

from django.contrib import admin

from annotate.admin import ManagedProjectsMixin, ReadOnlyMixin

from . import admin_scoring  # noqa: F401  (model versions and scoring runs)
from .admin_webhooks import WebhookEndpointAdmin  # noqa: F401  (webhooks, retraining)
from .models import BudgetLedger, LearningSettings, TaskLease


@admin.register(LearningSettings)
class LearningSettingsAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    list_display = ("project", "strategy", "annotators_per_task", "lease_minutes")
    list_filter = ("project",)
    search_fields = ("project__name",)


class ReadOnlyAdmin(ReadOnlyMixin, ManagedProjectsMixin, admin.ModelAdmin):
    """Leases and the ledger change only through the queue's services."""


@admin.register(TaskLease)
class TaskLeaseAdmin(ReadOnlyAdmin):
    list_display = ("task", "user", "slot", "state", "expires_at", "charged", "submitted_at")
    list_filter = ("state", "task__project")
    list_select_related = ("task", "task__asset", "user")
    raw_id_fields = ("task",)


@admin.register(BudgetLedger)
class BudgetLedgerAdmin(ReadOnlyAdmin):
    list_display = ("project", "units", "money")
    list_filter = ("project",)
