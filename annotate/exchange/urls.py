"""Page URLs of export and import; included from annotate.urls."""

from django.urls import path

from . import pages

urlpatterns = [
    path("projects/<int:pk>/exports/", pages.project_exports, name="project-exports"),
]
