"""Pre-annotation endpoints; included from activelearn.api.urls."""

from django.urls import path

from activelearn.api import suggestion_views

urlpatterns = [
    path(
        "tasks/<int:pk>/suggestions/",
        suggestion_views.TaskSuggestions.as_view(),
        name="api-task-suggestions",
    ),
]
