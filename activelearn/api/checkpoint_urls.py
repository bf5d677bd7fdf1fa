"""Checkpoint and prediction push endpoints; included from activelearn.api.urls."""

from django.urls import path

from . import checkpoint_views

urlpatterns = [
    path(
        "projects/<int:pk>/checkpoints/",
        checkpoint_views.Checkpoints.as_view(),
        name="api-checkpoints",
    ),
    path(
        "projects/<int:pk>/checkpoints/rollback/",
        checkpoint_views.CheckpointRollback.as_view(),
        name="api-checkpoint-rollback",
    ),
    path(
        "checkpoints/<int:pk>/activate/",
        checkpoint_views.CheckpointActivate.as_view(),
        name="api-checkpoint-activate",
    ),
    path(
        "projects/<int:pk>/predictions/",
        checkpoint_views.PredictionPush.as_view(),
        name="api-predictions-push",
    ),
]
