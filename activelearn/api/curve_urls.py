"""Learning curve endpoint; included from activelearn.api.urls."""

from django.urls import path

from activelearn.api import curve_views

urlpatterns = [
    path(
        "projects/<int:pk>/learning-curve/",
        curve_views.LearningCurve.as_view(),
        name="api-learning-curve",
    ),
]
