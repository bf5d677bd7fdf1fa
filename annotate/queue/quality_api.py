"""Quality control endpoints: a project's quality settings, gold marks on tasks, a review
sample run, and the annotator statistics. None is an annotator's: gold must stay invisible
to them (the permission table gives annotators no "queue.view")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api.errors import ErrorSerializer, RefusalSerializer
from annotate.models import Annotation, AnnotationTask, QualitySettings
from annotate.permissions import get_object_for, project_for
from annotate.quality.stats import annotator_stats

from . import gold, sampling

REFUSALS = {400: RefusalSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class QualitySettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualitySettings
        fields = list(QualitySettings.EDITABLE_FIELDS)


class PeriodSerializer(serializers.Serializer):
    week = serializers.CharField(help_text="ISO date of the week's Monday.")
    tasks = serializers.IntegerField()
    gold_score = serializers.FloatField(allow_null=True)
    rejection_rate = serializers.FloatField(allow_null=True)


class AnnotatorStatsSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    tasks = serializers.IntegerField()
    seconds_per_task = serializers.FloatField(allow_null=True)
    seconds_per_shape = serializers.FloatField(allow_null=True)
    shapes = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True)
    gold_attempts = serializers.IntegerField()
    gold_failed = serializers.IntegerField()
    gold_score = serializers.FloatField(allow_null=True)
    reviews = serializers.IntegerField()
    rejections = serializers.IntegerField()
    rejection_rate = serializers.FloatField(allow_null=True)
    needs_help = serializers.BooleanField()
    flags = serializers.ListField(child=serializers.CharField())
    weeks = PeriodSerializer(many=True)


class AnnotatorStatsAnswer(serializers.Serializer):
    annotators = AnnotatorStatsSerializer(many=True)


class GoldInput(serializers.Serializer):
    reference = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="An annotation of the task; empty: its accepted annotation or latest import.",
    )


class GoldAnswer(serializers.Serializer):
    id = serializers.IntegerField()
    is_gold = serializers.BooleanField()
    gold_reference = serializers.IntegerField(allow_null=True, source="gold_reference_id")


class ReviewSampleAnswer(serializers.Serializer):
    candidates = serializers.IntegerField()
    picked = serializers.IntegerField()
    random = serializers.IntegerField()
    weighted = serializers.IntegerField()
    no_budget = serializers.IntegerField()


class AnnotatorStatsView(APIView):
    @extend_schema(responses={200: AnnotatorStatsAnswer, **REFUSALS})
    def get(self, request, pk: int) -> Response:
        project = project_for(request.user, pk, "queue.view")
        rows = [row.as_dict() for row in annotator_stats(project_id=project.pk)]
        return Response(AnnotatorStatsAnswer({"annotators": rows}).data)


class QualitySettingsView(APIView):
    @extend_schema(responses={200: QualitySettingsSerializer, **REFUSALS})
    def get(self, request, pk: int) -> Response:
        project = project_for(request.user, pk, "queue.view")
        return Response(QualitySettingsSerializer(QualitySettings.for_project(project.pk)).data)

    @extend_schema(
        request=QualitySettingsSerializer, responses={200: QualitySettingsSerializer, **REFUSALS}
    )
    def put(self, request, pk: int) -> Response:
        project = project_for(request.user, pk, "project.change")
        current = QualitySettings.for_project(project.pk)
        serializer = QualitySettingsSerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings = serializer.save(project_id=project.pk)
        return Response(QualitySettingsSerializer(settings).data)


class TaskGoldView(APIView):
    def _task(self, request, pk: int) -> AnnotationTask:
        return get_object_for(request.user, "task.change", AnnotationTask.objects, pk=pk)

    @extend_schema(request=GoldInput, responses={200: GoldAnswer, **REFUSALS})
    def post(self, request, pk: int) -> Response:
        task = self._task(request, pk)
        data = GoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        reference = None
        if data.validated_data.get("reference"):
            reference = Annotation.objects.filter(
                pk=data.validated_data["reference"], task=task
            ).first()
            if reference is None:
                raise serializers.ValidationError(
                    {"reference": ["No annotation of this task has that id."]}
                )
        return Response(GoldAnswer(gold.task_mark_gold(task=task, reference=reference)).data)

    @extend_schema(request=None, responses={200: GoldAnswer, **REFUSALS})
    def delete(self, request, pk: int) -> Response:
        task = self._task(request, pk)
        return Response(GoldAnswer(gold.task_unmark_gold(task=task)).data)


class ReviewSampleRun(APIView):
    @extend_schema(request=None, responses={200: ReviewSampleAnswer, **REFUSALS})
    def post(self, request, pk: int) -> Response:
        project = project_for(request.user, pk, "project.change")
        return Response(ReviewSampleAnswer(sampling.review_sample(project_id=project.pk)).data)
