"""Checkpoint, prediction push and learning settings endpoints; included from
activelearn.api.urls."""

from django.urls import path

from activelearn.api import checkpoint_views, learning_views

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
    path(
        "projects/<int:pk>/learning-settings/",
        learning_views.LearningSettingsView.as_view(),
        name="api-learning-settings",
    ),
]
