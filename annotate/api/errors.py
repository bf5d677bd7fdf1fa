"""How refusals reach API clients: the one DRF exception handler (settings REST_FRAMEWORK
"EXCEPTION_HANDLER") and the serializers that describe error bodies in the OpenAPI schema.

A service raises a ServiceError subclass (annotate.services.errors); the error carries its
status, code and body, and the handler sends them, so views never catch service errors.
Everything else (DRF's validation, 401, 403, 404, 405, 429) keeps DRF's own answer.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import build_array_type, build_basic_type, build_object_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..faults import DATABASE_FAULTS
from ..middleware import DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE, database_fault_seen
from ..services.errors import ServiceError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus service errors (their own status, body and headers) and a lost
    database connection: 503 with Retry-After, which annotate.middleware may turn into a
    second try of a request that changes nothing."""
    if isinstance(exc, ServiceError):
        # As DRF does for its own errors: a refused request leaves no partial writes.
        set_rollback()
        return Response(exc.as_response_data(), status=exc.status, headers=exc.response_headers())
    if isinstance(exc, DATABASE_FAULTS):
        request = context.get("request")
        if request is not None:
            database_fault_seen(request._request, exc)
        return Response(
            {"detail": DATABASE_UNAVAILABLE, "code": "database_unavailable"},
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
        )
    return drf_exception_handler(exc, context)


class ErrorSerializer(serializers.Serializer):
    """An answer in words. A service's refusal also names its `code` and may add the fields
    below that explain it; DRF's own answers (401, 403, 404, 405, 429) have `detail` only."""

    detail = serializers.CharField(help_text="What went wrong, in words for people.")
    code = serializers.CharField(
        required=False, help_text="A stable name for the refusal, e.g. version_conflict."
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='Messages by field path, e.g. "boxes[3].w" (invalid_shapes, schema_changed).',
    )
    state = serializers.CharField(
        required=False, help_text="The object's state, when that is why (task_not_editable)."
    )
    latest_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The latest saved version, null when there is none (version_conflict).",
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="Seconds to wait before trying again (login_throttled)."
    )
    units = serializers.IntegerField(
        required=False, help_text="Tasks spent of the budget (budget_exhausted)."
    )
    money = serializers.CharField(
        required=False, help_text="Money spent of the budget, a decimal (budget_exhausted)."
    )


class FieldErrorsSerializer(serializers.Serializer):
    """Input refused field by field: {field: [messages]}, with "non_field_errors" for the
    request as a whole (DRF's shape for an invalid serializer; services answer alike)."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    """Its fields are the request's own, so the schema is a map of message lists."""

    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema, direction) -> dict:
        messages = build_array_type(build_basic_type(OpenApiTypes.STR))
        # A list's items and a nested object's fields are refused by position or name.
        nested = build_object_type(additionalProperties=True)
        schema = build_object_type(additionalProperties={"oneOf": [messages, nested]})
        schema["description"] = (
            'Messages by field: {field: [messages]}; "non_field_errors" for the request; '
            'a list field by item position ({"exclude": {"0": [messages]}}).'
        )
        return schema


# Where a 400 comes from a serializer or from a service that answers in words.
RefusalSerializer = PolymorphicProxySerializer(
    component_name="Refusal",
    serializers=[FieldErrorsSerializer, ErrorSerializer],
    resource_type_field_name=None,
)


# --- the refusals every operation may answer, in the schema ---------------------------------

_GENERIC_REFUSALS = {
    "401": "Not logged in, or the token is unknown.",
    "403": "Your role in this project does not allow it.",
    "404": "No such object among your projects' (another project's objects are a 404 too), "
    "or no such page.",
}


def declare_refusals(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: the refusals DRF answers on its own (400 for
    input, 401, 403, 404), declared on every operation they can come from, in the body this
    handler gives them, unless the operation declares its own."""
    schemas = result.get("components", {}).get("schemas", {})
    missing = {"Error", "Refusal"} - set(schemas)
    if missing:
        raise RuntimeError(f"declare_refusals needs the components {sorted(missing)}")
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    refusal = {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            parameters = operation.get("parameters", [])
            query = {p["name"] for p in parameters if p.get("in") == "query"}
            # Unknown query parameters and orderings are refused (api.strict_filters).
            if "requestBody" in operation or query:
                responses.setdefault(
                    "400", {"content": refusal, "description": "The request is refused."}
                )
            if {} in operation.get("security", result.get("security", [])):
                continue  # open to anyone: no login to refuse
            statuses = ["401", "403"]
            if "{" in path or "page" in query:
                statuses.append("404")
            for status in statuses:
                responses.setdefault(
                    status, {"content": error, "description": _GENERIC_REFUSALS[status]}
                )
    return result
