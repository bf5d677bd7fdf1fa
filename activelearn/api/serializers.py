"""Output shape of the ranked queue (the claim's inputs are annotate.queue.api's)."""

from __future__ import annotations

from rest_framework import serializers


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
    scored_at = serializers.SerializerMethodField()

    def _score(self, task):
        scores = getattr(task, "ranking_scores", [])
        return scores[0] if scores else None

    def get_audit(self, task) -> bool:
        return task.audit_drawn_at is not None

    def get_score(self, task) -> float | None:
        score = self._score(task)
        return None if score is None else score.score

    def get_breakdown(self, task) -> dict:
        score = self._score(task)
        return {} if score is None else score.breakdown

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
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueTaskSerializer(many=True)
    model_version = serializers.CharField(allow_null=True)
    budget = QueueBudgetSerializer()
