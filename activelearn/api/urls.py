"""REST API of the active-learning app: the ranked queue here, the rest from their own
modules (the queue's claim and lease endpoints are annotate's: annotate.queue.urls)."""

from django.urls import include, path

from activelearn.api import views

urlpatterns = [
    path("projects/<int:pk>/queue/", views.RankedQueue.as_view(), name="api-queue"),
    path("", include("activelearn.api.scoring_urls")),
    path("", include("activelearn.api.curve_urls")),
    path("", include("activelearn.api.audit_urls")),
    path("", include("activelearn.api.loop_urls")),
    path("", include("activelearn.api.suggestion_urls")),
    path("", include("activelearn.api.checkpoint_urls")),
]
