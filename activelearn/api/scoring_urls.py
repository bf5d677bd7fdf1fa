"""Scoring run endpoints; included from activelearn.api.urls."""

from django.urls import path

from activelearn.api import scoring_views

urlpatterns = [
    path(
        "projects/<int:pk>/scoring-runs/",
        scoring_views.ScoringRuns.as_view(),
        name="api-scoring-runs",
    ),
    path(
        "projects/<int:pk>/scoring-runs/<int:run_id>/",
        scoring_views.ScoringRunDetail.as_view(),
        name="api-scoring-run",
    ),
]
