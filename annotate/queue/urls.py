"""The queue's endpoints under /api/ (names as they always were)."""

from django.urls import path

from . import api, quality_api

urlpatterns = [
    path("projects/<int:pk>/tasks/next/", api.NextTask.as_view(), name="api-task-next"),
    path("tasks/<int:pk>/heartbeat/", api.Heartbeat.as_view(), name="api-task-heartbeat"),
    path("tasks/<int:pk>/skip/", api.Skip.as_view(), name="api-task-skip"),
    path("tasks/<int:pk>/submit/", api.Submit.as_view(), name="api-task-submit"),
    # Quality control (annotate.queue.gold, annotate.queue.sampling, annotate.quality.stats).
    path(
        "projects/<int:pk>/quality/annotators/",
        quality_api.AnnotatorStatsView.as_view(),
        name="api-quality-annotators",
    ),
    path(
        "projects/<int:pk>/quality/settings/",
        quality_api.QualitySettingsView.as_view(),
        name="api-quality-settings",
    ),
    path(
        "projects/<int:pk>/quality/review-sample/",
        quality_api.ReviewSampleRun.as_view(),
        name="api-quality-review-sample",
    ),
    path("tasks/<int:pk>/gold/", quality_api.TaskGoldView.as_view(), name="api-task-gold"),
]
