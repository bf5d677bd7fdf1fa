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
    score = serializers.SerializerMethodField()
    breakdown = serializers.SerializerMethodField()
    scored_at = serializers.SerializerMethodField()

    def _score(self, task):
        scores = getattr(task, "ranking_scores", [])
        return scores[0] if scores else None

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
