"""Checkpoints and prediction push over the API, for ML engineers and project managers
("model.manage"): upload an ONNX file with its spec, list versions, activate, roll back, and
push predictions as JSON or streamed JSON Lines. Other projects are 404, annotators 403."""

from __future__ import annotations

import json
from collections.abc import Iterator

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.models import Project
from annotate.permissions import get_object_for

from ..checkpoints import (
    CheckpointError,
    checkpoint_activate,
    checkpoint_rollback,
    checkpoint_upload,
)
from ..models import ModelVersion
from ..predictions import PushError, predictions_push


class ModelVersionSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="uploaded_by.username", default=None)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "kind",
            "task_type",
            "sha256",
            "uploaded_by",
            "notes",
            "metrics",
            "spec",
            "is_active",
            "activated_at",
            "created_at",
        ]


class CheckpointUploadInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    file = serializers.FileField(allow_empty_file=True)
    spec = serializers.JSONField(help_text="The spec as JSON (a string in a multipart form).")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    metrics = serializers.JSONField(required=False, default=dict)


def _json_field(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class Checkpoints(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(responses={200: ModelVersionSerializer(many=True)})
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        versions = ModelVersion.objects.filter(project=project).select_related("uploaded_by")
        return Response(
            ModelVersionSerializer(versions.order_by("-created_at", "-id"), many=True).data
        )

    @extend_schema(request=CheckpointUploadInput, responses={201: ModelVersionSerializer})
    def post(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        form = CheckpointUploadInput(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        metrics = _json_field(values.get("metrics") or {})
        if not isinstance(metrics, dict):
            return Response({"metrics": ["A JSON object."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            version = checkpoint_upload(
                project=project,
                user=request.user,
                name=values["name"],
                file=values["file"],
                spec=_json_field(values["spec"]),
                notes=values["notes"],
                metrics=metrics,
            )
        except CheckpointError as error:
            return Response(error.errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class CheckpointActivate(APIView):
    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request, pk: int) -> Response:
        version = get_object_for(request.user, "model.manage", ModelVersion.objects, pk=pk)
        run = checkpoint_activate(version=version)
        return Response(
            {"version": ModelVersionSerializer(version).data, "scoring_run": run.pk},
            status=status.HTTP_202_ACCEPTED,
        )


class CheckpointRollback(APIView):
    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    def post(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        try:
            version, run = checkpoint_rollback(project=project)
        except CheckpointError as error:
            return Response(error.errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"version": ModelVersionSerializer(version).data, "scoring_run": run.pk},
            status=status.HTTP_202_ACCEPTED,
        )


def _body_lines(request) -> Iterator[bytes]:
    """The body's lines as they arrive. A chunked upload has no Content-Length, and Django
    then reads an empty body; the server's input stream (gunicorn ends it at the last chunk)
    is read directly instead."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not request.META.get("CONTENT_LENGTH"):
        stream = request.META["wsgi.input"]
        return iter(stream.readline, b"")
    return iter(request)


class PredictionPush(APIView):
    """application/json: a list of rows (or {"predictions": [...]}); application/x-ndjson:
    one row per line, read from the request as it arrives. `?model_version=` names the
    version for rows that do not."""

    parser_classes = [JSONParser]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        default_version = request.query_params.get("model_version")
        content_type = (request.content_type or "").split(";")[0].strip()
        if content_type in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
            rows = _body_lines(request._request)
        else:
            body = request.data
            if isinstance(body, dict):
                default_version = default_version or body.get("model_version")
                body = body.get("predictions")
            if not isinstance(body, list):
                return Response(
                    {"predictions": ["A JSON list of rows, or JSON Lines."]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            rows = body
        try:
            result = predictions_push(
                project=project, rows=rows, user=request.user, model_version_name=default_version
            )
        except PushError as error:
            return Response({"model_version": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(result.as_dict(), status=status.HTTP_200_OK)
