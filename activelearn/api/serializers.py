"""Output shape of the ranked queue (the claim's inputs are annotate.queue.api's)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class QueueReasonSerializer(serializers.Serializer):
    """Why a task sits where it does, in words and in numbers (from a strategy that explains
    itself, such as track_risk)."""

    strategy = serializers.CharField()
    kind = serializers.CharField(
        help_text="collision, lost, flow, dip or disagreement (track_risk)."
    )
    text = serializers.CharField(help_text='e.g. "collision of #3 and #7 at frames 41–47".')
    tracks = serializers.ListField(child=serializers.IntegerField())
    frames = serializers.ListField(
        child=serializers.IntegerField(), help_text="First and last frame (video frame index)."
    )
    peak = serializers.IntegerField(help_text="The frame where it is strongest.")
    score = serializers.FloatField()


class QueueTaskSerializer(serializers.Serializer):
    """One row of the ranked queue: where a task sits and why."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    asset = serializers.IntegerField(source="asset_id")
    frame_start = serializers.IntegerField(allow_null=True)
    frame_end = serializers.IntegerField(allow_null=True)
    state = serializers.CharField()
    priority = serializers.FloatField()
    rank = serializers.IntegerField()
    audit = serializers.SerializerMethodField(
        help_text="Drawn for the random audit: handed out at the project's audit share of "
        "claims, in the audit's own random order, not at this rank."
    )
    score = serializers.SerializerMethodField()
    breakdown = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    scored_at = serializers.SerializerMethodField()

    def _score(self, task):
        scores = getattr(task, "ranking_scores", [])
        return scores[0] if scores else None

    def get_audit(self, task) -> bool:
        return task.audit_drawn_at is not None

    def get_score(self, task) -> float | None:
        score = self._score(task)
        return None if score is None else score.score

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {"type": "number"},
            "description": "Each strategy's part of the score.",
        }
    )
    def get_breakdown(self, task) -> dict:
        score = self._score(task)
        breakdown = {} if score is None else score.breakdown
        return {k: v for k, v in breakdown.items() if isinstance(v, int | float)}

    @extend_schema_field(QueueReasonSerializer(many=True))
    def get_reasons(self, task) -> list:
        score = self._score(task)
        reasons = [] if score is None else score.breakdown.get("reasons") or []
        return QueueReasonSerializer([r for r in reasons if isinstance(r, dict)], many=True).data

    def get_scored_at(self, task) -> str | None:
        score = self._score(task)
        return (
            None
            if score is None
            else serializers.DateTimeField().to_representation(score.computed_at)
        )


class QueueBudgetSerializer(serializers.Serializer):
    """Limits, what the queue has committed (submitted plus reserved), and what is left;
    money as decimal strings, null where there is no limit."""

    currency = serializers.CharField(allow_null=True)
    label_money_limit = serializers.CharField(allow_null=True)
    money_committed = serializers.CharField()
    money_left = serializers.CharField(allow_null=True)
    task_limit = serializers.IntegerField(allow_null=True)
    tasks_committed = serializers.IntegerField()
    tasks_left = serializers.IntegerField(allow_null=True)


class RankedQueuePage(serializers.Serializer):
    """One page of the ranked queue, with the version the scores come from and the budget."""

    count = serializers.IntegerField()
    count_exact = serializers.BooleanField(
        help_text="False when `count` is the database's estimate (past 10,000 tasks)."
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueTaskSerializer(many=True)
    model_version = serializers.CharField(allow_null=True)
    budget = QueueBudgetSerializer()
