"""Admin of the active-learning app: learning settings per project (the queue's leases and
budget ledger are annotate's: annotate.queue.admin)."""

from django import forms
from django.contrib import admin

from activelearn.admin import scoring  # noqa: F401  (model versions and scoring runs)
from activelearn.admin.webhooks import WebhookEndpointAdmin  # noqa: F401  (webhooks, retraining)
from activelearn.learning_settings import (
    learning_settings_errors,
    learning_settings_save,
    strategy_choices,
)
from activelearn.models import LearningSettings
from annotate.admin import ManagedProjectsMixin


class LearningSettingsForm(forms.ModelForm):
    """The strategy as a list with each one's line from the registry; every other rule is
    the API's validator (learning_settings_errors), so both refuse the same settings."""

    strategy = forms.ChoiceField(
        choices=[(name, f"{name} - {summary}") for name, summary in strategy_choices()],
        help_text="Checked against what the project's active model gives.",
    )

    class Meta:
        model = LearningSettings
        fields = ["project", *LearningSettings.EDITABLE_FIELDS]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors or data.get("project") is None:
            return data
        candidate = LearningSettings(
            pk=self.instance.pk, **{k: v for k, v in data.items() if k != "id"}
        )
        for field, problems in learning_settings_errors(settings=candidate).items():
            for problem in problems:
                self.add_error(field if field in self.fields else None, problem)
        return data


@admin.register(LearningSettings)
class LearningSettingsAdmin(ManagedProjectsMixin, admin.ModelAdmin):
    form = LearningSettingsForm
    list_display = ("project", "strategy", "annotators_per_task", "lease_minutes")
    list_filter = ("project",)
    search_fields = ("project__name",)

    def save_model(self, request, obj, form, change) -> None:
        # The service saves and rescores when the strategy (or what it reads) changed.
        run = learning_settings_save(settings=obj, changed=form.changed_data)
        if run is not None:
            self.message_user(request, f"The queue is being rescored (scoring run {run.pk}).")
