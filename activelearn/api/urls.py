"""REST API of the active-learning app: the task queue here, scoring runs from their own
module."""

from django.urls import include, path

from activelearn.api import views

urlpatterns = [
    path("projects/<int:pk>/tasks/next/", views.NextTask.as_view(), name="api-task-next"),
    path("projects/<int:pk>/queue/", views.RankedQueue.as_view(), name="api-queue"),
    path("tasks/<int:pk>/heartbeat/", views.Heartbeat.as_view(), name="api-task-heartbeat"),
    path("tasks/<int:pk>/skip/", views.Skip.as_view(), name="api-task-skip"),
    path("tasks/<int:pk>/submit/", views.Submit.as_view(), name="api-task-submit"),
    path("", include("activelearn.api.scoring_urls")),
    path("", include("activelearn.api.curve_urls")),
    path("", include("activelearn.api.loop_urls")),
    path("", include("activelearn.api.suggestion_urls")),
    path("", include("activelearn.api.checkpoint_urls")),
]
