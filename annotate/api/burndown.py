"""The budget burn-down as JSON, for the Model & queue page's plot and for scripts: spent
against the budget over time. Access: "budget.view" (project managers and ML engineers);
other roles of the project 403, other projects 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Project
from ..permissions import get_object_for
from ..selectors_budget import budget_burndown


class BurndownPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="Start of the time bucket.")
    money_spent = serializers.DecimalField(max_digits=18, decimal_places=4)
    tasks_spent = serializers.IntegerField(help_text="Tasks labeled so far.")


class BurndownSerializer(serializers.Serializer):
    currency = serializers.CharField()
    money_limit = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    task_limit = serializers.IntegerField(allow_null=True)
    bucket = serializers.ChoiceField(
        choices=["minute", "hour", "day", "week"], help_text="The step the points are summed by."
    )
    money_spent = serializers.DecimalField(max_digits=18, decimal_places=4)
    tasks_spent = serializers.IntegerField()
    points = BurndownPointSerializer(many=True)
    points_by_hand = serializers.IntegerField(help_text="Keypoints placed by a person so far.")
    points_prefilled = serializers.IntegerField(
        help_text="Keypoints pre-filled by the model or propagation and kept (not charged)."
    )
    money_saved = serializers.DecimalField(
        max_digits=18,
        decimal_places=4,
        help_text="What partial labeling saved: the pre-filled points and boxes at the "
        "budget's price per point and per box.",
    )


class BudgetBurndown(APIView):
    @extend_schema(
        responses=BurndownSerializer,
        description="Cumulative spend (money for labels and reviews, tasks labeled) per time "
        "bucket, from zero when the project was made; the last point is what is spent now.",
    )
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "budget.view", Project.objects, pk=pk)
        return Response(BurndownSerializer(budget_burndown(project=project)).data)

    def http_method_not_allowed(self, request, *args, **kwargs):
        # Another project is 404 for every method, also the ones this endpoint lacks.
        get_object_for(request.user, "project.view", Project.objects, pk=kwargs["pk"])
        return super().http_method_not_allowed(request, *args, **kwargs)
