"""A project's learning settings over the API, for its managers and ML engineers
("model.manage"; annotators and reviewers 403, other projects 404). PATCH runs the admin's
validator (activelearn.learning_settings) and answers 400 with messages per field."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.learning_settings import (
    learning_settings_update,
    strategy_choices,
    strategy_choices_for,
)
from activelearn.models import LearningSettings, ModelVersion
from annotate.api.errors import RefusalSerializer
from annotate.models import Project
from annotate.permissions import get_object_for

EDITABLE = list(LearningSettings.EDITABLE_FIELDS)


class LearningSettingsSerializer(serializers.ModelSerializer):
    """The fields, with the model's types and minimums; the rest is the shared validator."""

    strategy = serializers.ChoiceField(
        choices=strategy_choices(),
        help_text="A registry strategy, 'default' (picked from what the model gives) or "
        "'blend' (the weights in blend).",
    )

    class Meta:
        model = LearningSettings
        fields = EDITABLE

    def validate(self, attrs: dict) -> dict:
        # The JSON fields are NOT NULL in the database; a form's "null" is parsed to None
        # after DRF's own null check, so it is refused here: a 400, not a 500.
        nulls = {
            name: ["An object is needed, not null."]
            for name in ("blend", "keypoint_weights", "auto_accept_thresholds")
            if name in attrs and attrs[name] is None
        }
        if nulls:
            raise serializers.ValidationError(nulls)
        return attrs


class StrategyChoiceSerializer(serializers.Serializer):
    name = serializers.CharField()
    summary = serializers.CharField()
    needs = serializers.ListField(child=serializers.CharField())
    usable = serializers.BooleanField(help_text="Whether the active model can feed it.")
    reason = serializers.CharField(help_text="Why not, when it is not usable.")


class LearningSettingsAnswer(LearningSettingsSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    active_model_version = serializers.SerializerMethodField()
    strategy_choices = serializers.SerializerMethodField()
    scoring_run = serializers.SerializerMethodField()

    class Meta(LearningSettingsSerializer.Meta):
        fields = ["project", *EDITABLE, "active_model_version", "strategy_choices", "scoring_run"]

    def get_active_model_version(self, settings) -> str | None:
        version = self.context.get("version")
        return version.name if version else None

    @extend_schema_field(StrategyChoiceSerializer(many=True))
    def get_strategy_choices(self, settings) -> list[dict]:
        return strategy_choices_for(self.context.get("version"))

    def get_scoring_run(self, settings) -> int | None:
        """The rescoring a PATCH started (the strategy or what it reads changed)."""
        run = self.context.get("scoring_run")
        return run.pk if run else None


def _answer(settings: LearningSettings, *, scoring_run=None) -> dict:
    version = ModelVersion.objects.active_for(settings.project)
    return LearningSettingsAnswer(
        settings, context={"version": version, "scoring_run": scoring_run}
    ).data


class LearningSettingsView(APIView):
    @extend_schema(responses={200: LearningSettingsAnswer})
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        return Response(_answer(LearningSettings.for_project(project)))

    @extend_schema(
        request=LearningSettingsSerializer(partial=True),
        responses={200: LearningSettingsAnswer, 400: RefusalSerializer},
    )
    def patch(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        form = LearningSettingsSerializer(
            LearningSettings.for_project(project), data=request.data, partial=True
        )
        form.is_valid(raise_exception=True)
        # Refused settings (LearningSettingsInvalid) are 400s by field, from the handler.
        settings, run = learning_settings_update(project=project, changes=form.validated_data)
        return Response(_answer(settings, scoring_run=run))
