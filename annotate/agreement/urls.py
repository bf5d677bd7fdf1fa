"""Pages of agreement; the annotate URL map includes it."""

from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:pk>/quality/", views.project_quality, name="project-quality"),
]
