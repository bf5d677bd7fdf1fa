"""Learning curve and joint mastery endpoints; included from activelearn.api.urls."""

from django.urls import path

from activelearn.api import curve_views, joint_views

urlpatterns = [
    path(
        "projects/<int:pk>/learning-curve/",
        curve_views.LearningCurve.as_view(),
        name="api-learning-curve",
    ),
    path(
        "projects/<int:pk>/joint-metrics/",
        joint_views.JointMastery.as_view(),
        name="api-joint-metrics",
    ),
]
