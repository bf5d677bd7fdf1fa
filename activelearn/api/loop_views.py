"""What the active-learning loop did last, as the project page's line says it. Access:
"project.view" (every member, as on the page); other projects are 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.models import RetrainingRound, ScoringRun
from activelearn.selectors import loop_summary
from annotate.models import Project
from annotate.permissions import get_object_for


class LoopStatusSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="One line for people, as the project page shows it.")
    model_version = serializers.CharField(
        allow_null=True, help_text="Version the queue's order comes from; null: cold start."
    )
    labels_at_training = serializers.IntegerField(allow_null=True)
    tasks_ranked = serializers.IntegerField(
        allow_null=True, help_text="Tasks the last finished scoring run scored."
    )
    ranked_at = serializers.DateTimeField(allow_null=True)
    scoring_state = serializers.ChoiceField(
        choices=ScoringRun.State.choices,
        allow_null=True,
        help_text="State of the newest scoring run that was not superseded.",
    )
    retraining_state = serializers.ChoiceField(
        choices=RetrainingRound.State.choices, allow_null=True
    )
    retraining_note = serializers.CharField(allow_blank=True)
    labels_counted = serializers.IntegerField(
        help_text="Labels retraining counts now (accepted, or submitted: retrain_counts)."
    )
    next_retraining_at = serializers.IntegerField(
        allow_null=True, help_text="Labels counted at which the next round starts; null: off."
    )


class LoopStatus(APIView):
    @extend_schema(responses={200: LoopStatusSerializer})
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "project.view", Project.objects, pk=pk)
        return Response(LoopStatusSerializer(loop_summary(project=project)).data)
