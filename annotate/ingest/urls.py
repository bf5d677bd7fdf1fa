"""Pages of ingestion: the upload page and media serving (checked per object)."""

from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:project_id>/upload/", views.upload_page, name="asset-upload"),
    path("media/assets/<int:asset_id>/original/", views.asset_original, name="asset-original"),
    path("media/assets/<int:asset_id>/thumbnail/", views.asset_thumbnail, name="asset-thumbnail"),
    path("media/frames/<int:frame_id>/", views.frame_image, name="frame-image"),
]
