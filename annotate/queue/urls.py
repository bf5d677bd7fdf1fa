"""The queue's endpoints under /api/ (names as they always were)."""

from django.urls import path

from . import api

urlpatterns = [
    path("projects/<int:pk>/tasks/next/", api.NextTask.as_view(), name="api-task-next"),
    path("tasks/<int:pk>/heartbeat/", api.Heartbeat.as_view(), name="api-task-heartbeat"),
    path("tasks/<int:pk>/skip/", api.Skip.as_view(), name="api-task-skip"),
    path("tasks/<int:pk>/submit/", api.Submit.as_view(), name="api-task-submit"),
]
