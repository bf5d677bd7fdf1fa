"""The loop's status in one line and a few fields; included from activelearn.api.urls."""

from django.urls import path

from activelearn.api import loop_views

urlpatterns = [
    path(
        "projects/<int:pk>/loop-status/",
        loop_views.LoopStatus.as_view(),
        name="api-loop-status",
    ),
]
