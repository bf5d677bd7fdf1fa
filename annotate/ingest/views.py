"""Upload page, upload API and media serving. Thin: check access, call the service, shape
the answer. Media is served with its stored content type, never sniffed by the browser."""

from __future__ import annotations

from functools import partial, wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api.errors import ErrorSerializer, FieldErrorsSerializer
from annotate.auth import LeanTokenAuthentication
from annotate.bucket_objects import BucketUnreadable, asset_object_stream
from annotate.models import Asset, Frame, Project
from annotate.permissions import get_object_for

from .services import ingest_files
from .sniff import ACCEPTED

FIELD = "files"
NO_FILES = "Choose at least one file to upload (form field 'files')."


def _suffix(content_type: str) -> str:
    media_type = ACCEPTED.get(content_type)
    return media_type.suffix if media_type else ".bin"


def _answer_status(report) -> int:
    if report.created_ids:
        return 201
    if report.errors:
        return 400
    return 200  # only duplicates: nothing new, nothing wrong


def _uploads(request) -> list[tuple[str, object]]:
    return [(f.name, f) for f in request.FILES.getlist(FIELD)]


@login_required
def upload_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Drag-and-drop upload for project managers; the script posts here with XHR."""
    # Access first, method second: another project's page is 404 for every method.
    project = get_object_for(request.user, "asset.upload", Project.objects, pk=project_id)
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    wants_json = request.headers.get("x-requested-with") == "XMLHttpRequest"
    if request.method == "POST":
        files = _uploads(request)
        if not files:
            if wants_json:
                return JsonResponse({FIELD: [NO_FILES]}, status=400)
            return render(
                request, "annotate/upload.html", _context(project, error=NO_FILES), status=400
            )
        report = ingest_files(project=project, files=files, user=request.user)
        if wants_json:
            return JsonResponse(report.as_dict(), status=_answer_status(report))
        return render(
            request,
            "annotate/upload.html",
            _context(project, report=report.as_dict()),
            status=_answer_status(report),
        )
    return render(request, "annotate/upload.html", _context(project))


def _context(project: Project, *, report: dict | None = None, error: str = "") -> dict:
    return {
        "project": project,
        "report": report,
        "error": error,
        "upload_config": {
            "url": reverse("asset-upload", args=[project.pk]),
            "field": FIELD,
            "accept": sorted(ACCEPTED) + ["application/zip"],
        },
        "accept": ",".join(sorted(ACCEPTED)) + ",.zip,application/zip",
    }


def _serve(field_file, *, content_type: str, filename: str, opener=None) -> FileResponse:
    """The file streamed; `opener` gives the handle instead (a registered asset's object,
    read from its bucket)."""
    if opener is None and (not field_file or not field_file.name):
        raise Http404("No such file.")
    try:
        handle = opener() if opener is not None else field_file.open("rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    except BucketUnreadable:
        return HttpResponse(
            "The object cannot be read from its bucket now.", status=502, content_type="text/plain"
        )
    response = FileResponse(handle, content_type=content_type, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    # Inline, but never a document that can run script in our origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _viewable(request: HttpRequest, queryset, pk: int):
    """The object if the user may view it, else 404; then only GET and HEAD are allowed."""
    try:
        obj = get_object_for(request.user, "asset.view", queryset, pk=pk)
    except PermissionDenied:
        raise Http404("Not found.") from None
    if request.method not in ("GET", "HEAD"):
        raise _MethodNotAllowed()
    return obj


class _MethodNotAllowed(Exception):
    pass


def _read_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _MethodNotAllowed:
            return HttpResponseNotAllowed(["GET", "HEAD"])

    return wrapper


@login_required
@_read_only
def asset_original(request: HttpRequest, asset_id: int) -> FileResponse:
    asset = _viewable(request, Asset.objects.select_related("source"), asset_id)
    filename = f"asset-{asset.pk}{_suffix(asset.content_type)}"
    opener = partial(asset_object_stream, asset) if asset.source_id else None
    return _serve(asset.file, content_type=asset.content_type, filename=filename, opener=opener)


@login_required
@_read_only
def asset_thumbnail(request: HttpRequest, asset_id: int) -> FileResponse:
    asset = _viewable(request, Asset.objects, asset_id)
    return _serve(asset.thumbnail, content_type="image/jpeg", filename=f"thumb-{asset.pk}.jpg")


@login_required
@_read_only
def frame_image(request: HttpRequest, frame_id: int) -> FileResponse:
    frame = _viewable(request, Frame.objects, frame_id)
    return _serve(frame.image, content_type="image/jpeg", filename=f"frame-{frame.pk}.jpg")


class FileResultSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The file name as sent (for display only).")
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    message = serializers.CharField(allow_blank=True)
    asset_id = serializers.IntegerField(allow_null=True)
    kind = serializers.ChoiceField(choices=Asset.Kind.choices, allow_null=True)
    state = serializers.ChoiceField(choices=Asset.State.choices, allow_null=True)


class IngestReportSerializer(serializers.Serializer):
    """What became of each file (a zip's members each count as one)."""

    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = FileResultSerializer(many=True)


class AssetUploadView(APIView):
    """POST multipart with one or more `files`: per-file results.

    201 when something was stored, 400 with per-file messages when nothing was stored
    because of errors, 200 when every file was a duplicate.
    """

    authentication_classes = [SessionAuthentication, LeanTokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
                "required": [FIELD],
            }
        },
        responses={
            201: OpenApiResponse(IngestReportSerializer, description="Something was stored."),
            200: OpenApiResponse(IngestReportSerializer, description="Only duplicates."),
            400: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="UploadRefused",
                    serializers=[IngestReportSerializer, FieldErrorsSerializer],
                    resource_type_field_name=None,
                ),
                description="Nothing stored: every file had an error, or no file was sent.",
            ),
            413: OpenApiResponse(ErrorSerializer, description="The body is over the limit."),
        },
        summary="Upload images, videos or zips to a project",
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = get_object_for(request.user, "asset.upload", Project.objects, pk=project_id)
        files = _uploads(request)
        if not files:
            return Response({FIELD: [NO_FILES]}, status=status.HTTP_400_BAD_REQUEST)
        report = ingest_files(project=project, files=files, user=request.user)
        return Response(report.as_dict(), status=_answer_status(report))
