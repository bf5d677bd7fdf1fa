"""What the random audit says, as JSON, for the Model & queue page and for scripts: the newest
audit measurement's figures (activelearn.audit) and whether a newer one is under way.
Access: "queue.view" (project managers and ML engineers); other projects are 404.

Every figure that may be missing comes with a `reason` in words instead, and the serializers
below describe both shapes, so the OpenAPI schema is the answer's true shape.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.audit.reports import audit_report_latest
from activelearn.models import StopRecommendation
from annotate.models import Project
from annotate.permissions import get_object_for


class AuditTripleSerializer(serializers.Serializer):
    value = serializers.FloatField()
    low = serializers.FloatField()
    high = serializers.FloatField()


class AuditCurvePointSerializer(serializers.Serializer):
    labels = serializers.IntegerField(help_text="Labels the learner was trained on.")
    value = serializers.FloatField(help_text="Its accuracy on the audit images it did not see.")
    error = serializers.FloatField(help_text="Bootstrap standard error over the audit sample.")
    low = serializers.FloatField()
    high = serializers.FloatField()


class AuditFitSerializer(serializers.Serializer):
    a = serializers.FloatField(help_text="Asymptote of acc(n) = a - b (n / scale)^-c.")
    b = serializers.FloatField()
    c = serializers.FloatField()
    scale = serializers.FloatField()
    points = serializers.IntegerField(help_text="Measured points fitted.")


class AuditSliceFigureSerializer(serializers.Serializer):
    metric = serializers.CharField()
    value = serializers.FloatField()
    examples = serializers.IntegerField(allow_null=True)


class AuditLatestBatchSerializer(serializers.Serializer):
    value = serializers.FloatField()
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    examples = serializers.IntegerField()
    drawn_at = serializers.DateTimeField()


class AuditModelSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    metric = serializers.CharField(required=False, help_text="accuracy, mAP or oks.")
    value = serializers.FloatField(
        required=False, help_text="Mean over the audit sample: unbiased."
    )
    low = serializers.FloatField(required=False, allow_null=True)
    high = serializers.FloatField(required=False, allow_null=True)
    examples = serializers.IntegerField(required=False)
    interval = serializers.CharField(required=False, help_text="Wilson 95% or bootstrap 95%.")
    validation_slice = AuditSliceFigureSerializer(
        required=False,
        allow_null=True,
        help_text="The version's figure on the validation slice, for comparison.",
    )
    left_out_labeled_before_the_version = serializers.IntegerField(
        required=False,
        help_text="Audit labels made before an outside model was: it may have trained on them.",
    )
    latest_batch = AuditLatestBatchSerializer(
        required=False,
        allow_null=True,
        help_text="The latest batch's audit labels alone: today's pool, fewer examples.",
    )
    reason = serializers.CharField(required=False, help_text="Why there is no estimate.")


class AuditCountsSerializer(serializers.Serializer):
    labeled = serializers.IntegerField()
    waiting = serializers.IntegerField(help_text="Drawn, not labeled yet.")
    skipped = serializers.IntegerField(help_text="The sample's non-response.")
    batches = serializers.IntegerField()
    first_drawn_at = serializers.DateTimeField(allow_null=True)
    last_drawn_at = serializers.DateTimeField(allow_null=True)


class AuditCurvesSerializer(serializers.Serializer):
    learner = serializers.CharField()
    active_labels = serializers.IntegerField()
    audit_labels = serializers.IntegerField()
    tested = serializers.IntegerField(help_text="Audit images the arms are scored on.")
    active = AuditCurvePointSerializer(many=True, help_text="Trained on actively chosen labels.")
    random = AuditCurvePointSerializer(many=True, help_text="Trained on audit (random) labels.")
    reason = serializers.CharField(help_text="Why there are no curves; empty when there are.")


class AuditOpenTripleSerializer(serializers.Serializer):
    """A figure and its 95% interval; null where unbounded (or, for the value, never
    reached)."""

    value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)


class AuditSavedSerializer(serializers.Serializer):
    labels_used = serializers.IntegerField(required=False)
    active_value = serializers.FloatField(required=False)
    target_labels = serializers.IntegerField(
        required=False, help_text="The most audit labels the random curve was measured at."
    )
    target_value = serializers.FloatField(
        required=False, help_text="The accuracy that many random labels reached."
    )
    active_needed = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Actively chosen labels that reached it (null: they never did).",
    )
    measured_share = AuditOpenTripleSerializer(
        required=False,
        allow_null=True,
        help_text="Share of labels saved at target_value, measured: no extrapolation.",
    )
    random_needed = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Random labels for the actively chosen labels' accuracy (null: too far to "
        "read off the fit; see reason).",
    )
    saved = serializers.FloatField(required=False, allow_null=True)
    saved_low = serializers.FloatField(required=False, allow_null=True)
    saved_high = serializers.FloatField(required=False, allow_null=True)
    share_saved = serializers.FloatField(required=False, allow_null=True)
    cap = serializers.IntegerField(required=False)
    capped = serializers.BooleanField(required=False)
    beyond_measured = serializers.BooleanField(required=False)
    extrapolation_limit = serializers.IntegerField(required=False)
    equal_labels = serializers.IntegerField(required=False, allow_null=True)
    equal_gain = AuditTripleSerializer(required=False, allow_null=True)
    random_fit = AuditFitSerializer(required=False, allow_null=True)
    replicates = serializers.IntegerField(required=False)
    reason = serializers.CharField(required=False)


class AuditBudgetLeftSerializer(serializers.Serializer):
    labels_left = serializers.IntegerField()
    limited_by = serializers.ChoiceField(choices=["queue", "tasks", "money"])
    tasks_spent = serializers.IntegerField()
    money_spent = serializers.FloatField()
    money_per_label = serializers.FloatField()
    labels_per_day = serializers.FloatField(allow_null=True)
    currency = serializers.CharField()


class AuditForecastPointSerializer(serializers.Serializer):
    labels = serializers.IntegerField(help_text="Labels spent.")
    value = serializers.FloatField()
    low = serializers.FloatField()
    high = serializers.FloatField()
    tasks_spent = serializers.IntegerField()
    money_spent = serializers.FloatField()
    at = serializers.DateTimeField(
        allow_null=True, help_text="When, at the label rate of the last seven days."
    )


class AuditForecastSerializer(serializers.Serializer):
    source = serializers.ChoiceField(required=False, choices=["audit", "validation_slice"])
    metric = serializers.CharField(required=False)
    labels_now = serializers.IntegerField(required=False)
    labels_end = serializers.IntegerField(required=False)
    now = AuditTripleSerializer(required=False)
    end = AuditTripleSerializer(required=False)
    gain_next = AuditTripleSerializer(required=False, help_text="Gain of the next `per` labels.")
    per = serializers.IntegerField(required=False)
    threshold = serializers.FloatField(required=False)
    stop_at = serializers.IntegerField(required=False, allow_null=True)
    stop_now = serializers.BooleanField(required=False)
    stop_recommended = serializers.BooleanField(required=False)
    fit = AuditFitSerializer(required=False)
    budget = AuditBudgetLeftSerializer(required=False)
    path = AuditForecastPointSerializer(required=False, many=True)
    reason = serializers.CharField(required=False)


class AuditFiguresSerializer(serializers.Serializer):
    share = serializers.FloatField()
    stop_gain_per_1000 = serializers.FloatField()
    labels = serializers.IntegerField()
    active_labels = serializers.IntegerField()
    audit_labels = serializers.IntegerField()
    audit = AuditCountsSerializer()
    model = AuditModelSerializer()
    curves = AuditCurvesSerializer()
    saved = AuditSavedSerializer()
    forecast = AuditForecastSerializer()
    measured_at = serializers.DateTimeField()


class AuditStopSerializer(serializers.ModelSerializer):
    class Meta:
        model = StopRecommendation
        fields = [
            "created_at",
            "labels",
            "metric",
            "gain_per_1000",
            "gain_per_1000_high",
            "threshold",
        ]


class AuditAnswerSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    report = serializers.IntegerField(allow_null=True, help_text="The measurement shown.")
    measured_at = serializers.DateTimeField(allow_null=True)
    measuring = serializers.ChoiceField(
        choices=["queued", "running"], allow_null=True, help_text="A newer measurement under way."
    )
    figures = AuditFiguresSerializer(allow_null=True)
    stop_recommendation = AuditStopSerializer(
        allow_null=True, help_text="Announced once, the first time the forecast said stop."
    )


class AuditView(APIView):
    @extend_schema(
        responses={200: AuditAnswerSerializer},
        description="The newest audit measurement: the active model on the audit sample, "
        "learning curves of actively chosen against audit labels, labels saved against "
        "random sampling, the budget forecast and the stop recommendation.",
    )
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
        done, live = audit_report_latest(project=project)
        stop = StopRecommendation.objects.filter(project=project).first()
        answer = {
            "project": project.pk,
            "report": done.pk if done else None,
            "measured_at": done.finished_at if done else None,
            "measuring": live.state if live else None,
            "figures": done.figures if done else None,
            "stop_recommendation": stop,
        }
        return Response(AuditAnswerSerializer(answer).data)
