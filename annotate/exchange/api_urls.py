"""Export and import endpoints, mounted under /api/ by the lead's urls."""

from django.urls import path

from . import api

urlpatterns = [
    path("projects/<int:pk>/exports/", api.ExportList.as_view(), name="api-export-list"),
    path("exports/<int:pk>/", api.ExportDetail.as_view(), name="api-export-detail"),
    path("exports/<int:pk>/download/", api.ExportDownload.as_view(), name="api-export-download"),
    path("projects/<int:pk>/imports/", api.ImportList.as_view(), name="api-import-list"),
    path("imports/<int:pk>/", api.ImportDetail.as_view(), name="api-import-detail"),
]
