"""Pages of the annotate app: the project list and a project's page here; uploads and
labeling come from their own areas."""

from django.urls import include, path

from .views import pages, quality

urlpatterns = [
    path("", pages.home, name="home"),
    path("projects/<int:pk>/", pages.project_detail, name="project-detail"),
    path(
        "projects/<int:pk>/quality/annotators/",
        quality.annotator_stats_page,
        name="quality-annotators",
    ),
    path("", include("annotate.ingest.urls")),
    path("", include("annotate.labeling.urls")),
    path("", include("annotate.exchange.urls")),
    path("", include("annotate.agreement.urls")),
]
