"""Propagation endpoints; annotate.api.urls includes them under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path(
        "tasks/<int:pk>/propagations/",
        api.TaskPropagations.as_view(),
        name="api-task-propagations",
    ),
    path("propagations/<int:pk>/", api.PropagationDetail.as_view(), name="api-propagation-detail"),
    path("propagations/<int:pk>/undo/", api.PropagationUndo.as_view(), name="api-propagation-undo"),
]
