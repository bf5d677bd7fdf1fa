"""REST endpoints: one small view per resource and operation.

Every object is fetched through annotate.permissions, so an object of a project the user is
not in is 404 for every HTTP method (even one the endpoint does not support), and an object
the user can see but not change is 403. Reads come from annotate.selectors, writes go through
annotate.services.projects.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from .. import selectors
from ..models import Annotation, AnnotationTask, Asset, Frame, LabelClass, Project
from ..permissions import can, forget_roles, get_object_for, view_action
from ..roles import GROUP_PROJECT_MANAGER
from ..services import projects as project_services
from ..services.logins import (
    CACHE_ERRORS,
    LoginUnavailable,
    client_address,
    login_attempt_check,
    login_failure_record,
    login_success_record,
)
from . import filters
from .errors import ErrorSerializer, RefusalSerializer
from .pagination import KeysetPagination
from .serializers import (
    AnnotationSerializer,
    AnnotationVersionSerializer,
    AssetSerializer,
    BudgetSerializer,
    BudgetWithSpendSerializer,
    FrameSerializer,
    LabelClassSerializer,
    ProjectSerializer,
    TaskSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)


def _as_drf_error(error: DjangoValidationError) -> serializers.ValidationError:
    """A model's full_clean() message, as a field-level 400."""
    detail = error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
    return serializers.ValidationError(detail)


class ScopedObjectMixin:
    """Detail endpoints: `actions` maps an HTTP method to the permission action it needs,
    and `lookup_queryset` is where the object (or the parent object) is looked up."""

    actions: dict[str, str] = {}

    def lookup_queryset(self):
        return self.queryset.model._default_manager.all()

    def action_for(self, method: str) -> str:
        return self.actions.get(method) or view_action(self.actions["GET"])

    def get_scoped_object(self) -> Model:
        return get_object_for(
            self.request.user,
            self.action_for(self.request.method),
            self.lookup_queryset(),
            pk=self.kwargs["pk"],
        )

    def check_object_permissions(self, request, obj) -> None:
        # Asked by the browsable API before it offers an edit form for the object.
        super().check_object_permissions(request, obj)
        if not can(request.user, self.action_for(request.method), obj):
            self.permission_denied(request, message="You may not change this.")

    def http_method_not_allowed(self, request, *args, **kwargs):
        # Look the object up first: another project's object is 404 for every method.
        queryset = self.lookup_queryset()
        existence = view_action(self.actions["GET"], queryset.model)
        get_object_for(request.user, existence, queryset, **kwargs)
        return super().http_method_not_allowed(request, *args, **kwargs)


# Projects


class ProjectList(generics.ListCreateAPIView):
    """Projects you are a member of. Creating one needs the Project manager group."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name", "id"]

    def get_queryset(self):
        return selectors.projects_for(self.request.user)

    def perform_create(self, serializer):
        user = self.request.user
        if not (user.is_superuser or user.groups.filter(name=GROUP_PROJECT_MANAGER).exists()):
            raise PermissionDenied("Only project managers create projects.")
        try:
            serializer.instance = project_services.project_create(
                created_by=user, **serializer.validated_data
            )
        except DjangoValidationError as error:
            raise _as_drf_error(error) from error
        forget_roles(user)


class ProjectDetail(ScopedObjectMixin, generics.RetrieveUpdateAPIView):
    """A project's settings and label schema; managers change them."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    actions = {"GET": "project.view", "PUT": "project.change", "PATCH": "project.change"}

    def lookup_queryset(self):
        return selectors.project_stats(Project.objects.all())

    def get_object(self) -> Project:
        project = self.get_scoped_object()
        if self.request.method in ("PUT", "PATCH") and not isinstance(self.request.data, dict):
            # JSON null, a number or a list: not a set of fields to change.
            raise ValidationError(
                {"non_field_errors": ["Send a JSON object with the fields to change."]}
            )
        if "skeleton" in self.request.data and not can(self.request.user, "schema.change", project):
            raise PermissionDenied("You may not change this project's skeleton.")
        return project

    def perform_update(self, serializer):
        try:
            project_services.project_update(
                project=serializer.instance, **serializer.validated_data
            )
        except DjangoValidationError as error:
            raise _as_drf_error(error) from error


# Label classes


class LabelClassList(ScopedObjectMixin, generics.ListCreateAPIView):
    """The object classes of a project (?active=true for the active ones only).
    Managers add classes."""

    queryset = LabelClass.objects.all()
    serializer_class = LabelClassSerializer
    actions = {"GET": "project.view", "POST": "schema.change"}
    pagination_class = None
    extra_query_params = ("active",)

    def lookup_queryset(self):
        return Project.objects.all()

    def get_queryset(self):
        active_only = self.request.query_params.get("active") in ("1", "true")
        return selectors.label_classes_of(self.get_scoped_object(), active_only=active_only)

    def create(self, request, *args, **kwargs):
        project = self.get_scoped_object()
        context = {**self.get_serializer_context(), "project": project}
        serializer = LabelClassSerializer(data=request.data, context=context)
        serializer.is_valid(raise_exception=True)
        try:
            label_class = project_services.label_class_create(
                project=project, **serializer.validated_data
            )
        except DjangoValidationError as error:
            raise _as_drf_error(error) from error
        return Response(LabelClassSerializer(label_class).data, status=status.HTTP_201_CREATED)


class LabelClassDetail(ScopedObjectMixin, generics.RetrieveUpdateDestroyAPIView):
    """One object class. DELETE deactivates it (earlier annotations still name it)."""

    queryset = LabelClass.objects.all()
    serializer_class = LabelClassSerializer
    actions = {
        "GET": "project.view",
        "PUT": "schema.change",
        "PATCH": "schema.change",
        "DELETE": "schema.change",
    }

    def get_object(self) -> LabelClass:
        return self.get_scoped_object()

    def perform_update(self, serializer):
        try:
            project_services.label_class_update(
                label_class=serializer.instance, **serializer.validated_data
            )
        except DjangoValidationError as error:
            raise _as_drf_error(error) from error

    @extend_schema(responses={200: LabelClassSerializer})
    def delete(self, request, *args, **kwargs):
        label_class = project_services.label_class_deactivate(label_class=self.get_object())
        return Response(self.get_serializer(label_class).data)


# Budget


class BudgetDetail(ScopedObjectMixin, generics.GenericAPIView):
    """A project's budget and what is spent so far (derived from submitted and reviewed
    tasks). Managers and ML engineers read it; managers change it."""

    queryset = Project.objects.all()
    serializer_class = BudgetSerializer
    actions = {"GET": "budget.view", "PUT": "budget.change", "PATCH": "budget.change"}

    # The browsable API hands back the read shape ({"project", "budget", "spent"}) when it
    # builds its edit form: the rule is checked on the project, the form shows the budget.
    def check_object_permissions(self, request, obj) -> None:
        project = Project(pk=obj["project"]) if isinstance(obj, dict) else obj
        super().check_object_permissions(request, project)

    def get_serializer(self, *args, **kwargs):
        if isinstance(kwargs.get("instance"), dict):
            kwargs["instance"] = kwargs["instance"]["budget"]
        return super().get_serializer(*args, **kwargs)

    def _response(self, project: Project) -> Response:
        budget = selectors.budget_of(project)
        spent = selectors.budget_spent(project, budget)
        data = {"project": project.id, "budget": budget, "spent": spent}
        return Response(BudgetWithSpendSerializer(data).data)

    @extend_schema(responses=BudgetWithSpendSerializer)
    def get(self, request, *args, **kwargs):
        return self._response(self.get_scoped_object())

    def _update(self, request, *, partial: bool) -> Response:
        project = self.get_scoped_object()
        current = selectors.budget_of(project)
        serializer = BudgetSerializer(
            current if current.pk else None, data=request.data, partial=partial
        )
        serializer.is_valid(raise_exception=True)
        try:
            project_services.budget_update(project=project, **serializer.validated_data)
        except DjangoValidationError as error:
            raise _as_drf_error(error) from error
        return self._response(project)

    @extend_schema(request=BudgetSerializer, responses=BudgetWithSpendSerializer)
    def put(self, request, *args, **kwargs):
        return self._update(request, partial=False)

    @extend_schema(request=BudgetSerializer, responses=BudgetWithSpendSerializer)
    def patch(self, request, *args, **kwargs):
        return self._update(request, partial=True)


# Assets and frames


class AssetList(generics.ListAPIView):
    """Images and videos of your projects, with their processing state."""

    queryset = Asset.objects.all()
    serializer_class = AssetSerializer
    filterset_class = filters.AssetFilter
    ordering_fields = ["id", "created_at", "state"]
    ordering = ["id"]

    def get_queryset(self):
        return selectors.assets_for(self.request.user)


class AssetDetail(ScopedObjectMixin, generics.RetrieveDestroyAPIView):
    """One asset. Managers delete it, with its frames, tasks and annotations."""

    queryset = Asset.objects.all()
    serializer_class = AssetSerializer
    actions = {"GET": "asset.view", "DELETE": "asset.delete"}

    def get_object(self) -> Asset:
        return self.get_scoped_object()

    def perform_destroy(self, instance: Asset) -> None:
        project_services.asset_delete(asset=instance)


class FrameList(ScopedObjectMixin, generics.ListAPIView):
    """The extracted frames of a video asset, in order."""

    queryset = Frame.objects.all()
    serializer_class = FrameSerializer
    actions = {"GET": "asset.view"}
    ordering_fields = ["index"]
    ordering = ["index"]

    def lookup_queryset(self):
        return Asset.objects.all()

    def get_queryset(self):
        return selectors.frames_of(self.get_scoped_object())


# Tasks and annotations


class TaskList(generics.ListAPIView):
    """Annotation tasks you may see, in id order (`ordering=-id`: newest first); filter by
    project, state, kind, asset, annotator or a priority range. Pages by cursor: follow
    `next`. The tasks in the order the queue hands them out: /api/projects/{id}/queue/."""

    queryset = AnnotationTask.objects.all()
    serializer_class = TaskSerializer
    filterset_class = filters.TaskFilter
    pagination_class = KeysetPagination
    # Only the unique key: keyset pages need a unique order, and (project, id) is indexed
    # (task_project_list_idx). Priority orders no index without a state, so sorting a
    # million-task project by it read them all (4 to 10 s); the queue endpoint ranks.
    ordering_fields = ["id"]
    ordering = ["id"]

    def get_queryset(self):
        # The project filter narrows the permission rule too (visible(): one project's
        # rule, not an OR of every project's); the filterset still applies the filter.
        project_id = filters.plain_id(self.request.query_params.get("project"))
        return selectors.tasks_for(self.request.user, project_id=project_id)


class TaskDetail(ScopedObjectMixin, generics.RetrieveAPIView):
    queryset = AnnotationTask.objects.all()
    serializer_class = TaskSerializer
    actions = {"GET": "task.view"}

    def lookup_queryset(self):
        return selectors.tasks_for(self.request.user)

    def get_object(self) -> AnnotationTask:
        return self.get_scoped_object()


class TaskAnnotationList(ScopedObjectMixin, generics.ListAPIView):
    """Every saved version of a task's annotation, newest first, with shape counts."""

    queryset = Annotation.objects.all()
    serializer_class = AnnotationVersionSerializer
    actions = {"GET": "task.view"}
    ordering_fields = ["version", "created_at"]
    ordering = ["-version"]

    def lookup_queryset(self):
        return AnnotationTask.objects.all()

    def get_queryset(self):
        return selectors.annotation_versions(self.request.user, self.get_scoped_object())


class TaskLatestAnnotation(ScopedObjectMixin, generics.RetrieveAPIView):
    """The newest saved version of a task, with its boxes, keypoints and tracks."""

    queryset = Annotation.objects.all()
    serializer_class = AnnotationSerializer
    actions = {"GET": "task.view"}

    def lookup_queryset(self):
        return AnnotationTask.objects.all()

    def get_object(self) -> Annotation:
        versions = selectors.annotation_versions(self.request.user, self.get_scoped_object())
        latest = selectors.annotations_with_shapes(versions).first()
        if latest is None:
            raise Http404("This task has no saved version yet.")
        return latest


class AnnotationDetail(ScopedObjectMixin, generics.RetrieveAPIView):
    """One saved version, with its boxes, keypoints and tracks."""

    queryset = Annotation.objects.all()
    serializer_class = AnnotationSerializer
    actions = {"GET": "annotation.view"}

    def lookup_queryset(self):
        return selectors.annotations_with_shapes(Annotation.objects.all())

    def get_object(self) -> Annotation:
        return self.get_scoped_object()


# Tokens for scripts


class TokenRateThrottle(AnonRateThrottle):
    """Per client address (X-Forwarded-For only through REST_FRAMEWORK["NUM_PROXIES"], set
    from TRUSTED_PROXY_COUNT): slows password guessing through the token endpoint. Fails
    closed with 503 while the cache is unreachable."""

    scope = "token"
    rate = "10/minute"

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:
            raise LoginUnavailable() from None


class TokenCreate(APIView):
    """Trade a username and password for an API token
    (send it as `Authorization: Token <key>`)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(RefusalSerializer, description="Wrong username or password."),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many failed attempts for this username or address; the "
                "Retry-After header says in how many seconds to try again.",
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="The attempt counter (Redis) is unreachable."
            ),
        },
    )
    def post(self, request):
        credentials = TokenRequestSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        username = credentials.validated_data["username"]
        address = client_address(request.META)
        # Refused attempts (LoginThrottled 429, LoginUnavailable 503) are answered by the
        # shared exception handler, with Retry-After.
        login_attempt_check(username=username, address=address)
        user = authenticate(request, **credentials.validated_data)
        if user is None:
            login_failure_record(username=username, address=address)
            raise serializers.ValidationError({"non_field_errors": ["Wrong username or password."]})
        login_success_record(username=username, address=address)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key}, status=status.HTTP_200_OK)
