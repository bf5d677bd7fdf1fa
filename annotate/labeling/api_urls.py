"""API routes of the labeling page; annotate.api.urls includes them under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path("tasks/<int:pk>/payload/", api.TaskPayloadView.as_view(), name="api-task-payload"),
    path(
        "tasks/<int:pk>/annotation/", api.TaskAnnotationView.as_view(), name="api-task-annotation"
    ),
    path("tasks/<int:pk>/review/", api.TaskReviewView.as_view(), name="api-task-review"),
]
