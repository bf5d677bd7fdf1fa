"""Checkpoints and prediction push over the API, for ML engineers and project managers
("model.manage"): upload an ONNX file with its spec, list versions, activate, roll back, and
push predictions as JSON or streamed JSON Lines. Other projects are 404, annotators 403.
Refusals (CheckpointError, PushError) are 400s by field, from the shared exception handler."""

from __future__ import annotations

import json

from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.api.checkpoint_serializers import (
    ActivationAnswer,
    CheckpointUploadInput,
    ModelVersionSerializer,
    PredictionPushAnswer,
    PredictionPushInput,
    RollbackAnswer,
)
from activelearn.models import ModelVersion
from activelearn.predictions.push import JsonLinesBody, predictions_push
from activelearn.versions.services import (
    checkpoint_activate,
    checkpoint_rollback,
    checkpoint_upload,
)
from annotate.api.errors import ErrorSerializer, FieldErrorsSerializer, RefusalSerializer
from annotate.models import Project
from annotate.permissions import get_object_for

TRUE_WORDS = ("1", "true", "yes", "on")


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

    @extend_schema(
        request=CheckpointUploadInput,
        responses={201: ModelVersionSerializer, 400: RefusalSerializer},
    )
    def post(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        form = CheckpointUploadInput(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        metrics = _json_field(values.get("metrics") or {})
        if not isinstance(metrics, dict):
            return Response({"metrics": ["A JSON object."]}, status=status.HTTP_400_BAD_REQUEST)
        version = checkpoint_upload(
            project=project,
            user=request.user,
            name=values["name"],
            file=values["file"],
            spec=_json_field(values["spec"]),
            notes=values["notes"],
            metrics=metrics,
        )
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class CheckpointActivate(APIView):
    """Activate any version of the project: an upload, a built-in baseline or pushed
    predictions. 400 on "strategy" when the project's strategy cannot use what it gives."""

    @extend_schema(request=None, responses={202: ActivationAnswer, 400: FieldErrorsSerializer})
    def post(self, request, pk: int) -> Response:
        version = get_object_for(
            request.user, "model.manage", ModelVersion.objects.select_related("project"), pk=pk
        )
        run = checkpoint_activate(version=version)
        return Response(
            ActivationAnswer({"version": version, "scoring_run": run.pk}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class CheckpointRollback(APIView):
    """Back to the version active before; else the newest built-in baseline; else no model
    (the cold-start order). `to` and `message` say which."""

    @extend_schema(request=None, responses={202: RollbackAnswer, 400: FieldErrorsSerializer})
    def post(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        rollback = checkpoint_rollback(project=project)
        answer = {
            "to": rollback.to,
            "version": rollback.version,
            "scoring_run": rollback.scoring_run.pk,
            "message": rollback.message,
        }
        return Response(RollbackAnswer(answer).data, status=status.HTTP_202_ACCEPTED)


BODY_BLOCK_BYTES = 1 << 20


def _body_blocks(request) -> JsonLinesBody:
    """The body as it arrives, a block at a time (the push splits it into lines). A chunked
    upload has no Content-Length, and Django then reads an empty body; the server's input
    stream (the server ends it at the last chunk) is read directly instead. The size limits
    (annotate.middleware) were checked before the view runs."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not request.META.get("CONTENT_LENGTH"):
        read = request.META["wsgi.input"].read
    else:
        read = request.read
    return JsonLinesBody(iter(lambda: read(BODY_BLOCK_BYTES), b""))


class PredictionPush(APIView):
    """application/json: a list of rows (or {"predictions": [...]}); application/x-ndjson:
    one row per line, read from the request as it arrives. `?model_version=` names the
    version for rows that do not. The push orders the queue: a push to the active version
    rescores; with no active version its version becomes active; `?activate=1` (or
    "activate": true) activates it over another one."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=PredictionPushInput,
        parameters=[
            OpenApiParameter("model_version", str, description="Version for rows naming none."),
            OpenApiParameter("activate", bool, description="Make the pushed version active."),
        ],
        responses={
            200: PredictionPushAnswer,
            # A refused request (bad version, not a list) or a push whose every row was refused.
            400: PolymorphicProxySerializer(
                component_name="PredictionPushRefusal",
                serializers=[FieldErrorsSerializer, ErrorSerializer, PredictionPushAnswer],
                resource_type_field_name=None,
            ),
        },
    )
    def post(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        default_version = request.query_params.get("model_version")
        activate = request.query_params.get("activate", "").lower() in TRUE_WORDS
        content_type = (request.content_type or "").split(";")[0].strip()
        if content_type in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
            rows = _body_blocks(request._request)
        else:
            body = request.data
            if isinstance(body, dict):
                default_version = default_version or body.get("model_version")
                activate = activate or body.get("activate") is True
                body = body.get("predictions")
            if not isinstance(body, list):
                return Response(
                    {"predictions": ["A JSON list of rows, or JSON Lines."]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            rows = body
        result = predictions_push(
            project=project,
            rows=rows,
            user=request.user,
            model_version_name=default_version,
            activate=activate,
        )
        # Nothing stored and something refused: the push failed, whatever its size; the
        # answer lists each row's reason as a partial push's does.
        refused = result.stored == 0 and result.error_count > 0
        return Response(
            PredictionPushAnswer(result.as_dict()).data,
            status=status.HTTP_400_BAD_REQUEST if refused else status.HTTP_200_OK,
        )
