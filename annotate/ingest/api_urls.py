"""REST endpoints of ingestion, included by annotate.api.urls."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "projects/<int:project_id>/assets/upload/",
        views.AssetUploadView.as_view(),
        name="api-asset-upload",
    ),
]
