"""Bucket source endpoints, mounted under /api/ by annotate.api.urls."""

from django.urls import path

from . import api

urlpatterns = [
    path(
        "projects/<int:pk>/bucket-sources/",
        api.BucketSourceList.as_view(),
        name="api-bucket-source-list",
    ),
    path(
        "bucket-sources/<int:pk>/",
        api.BucketSourceDetail.as_view(),
        name="api-bucket-source-detail",
    ),
    path(
        "bucket-sources/<int:pk>/registrations/",
        api.BucketRegistrationList.as_view(),
        name="api-bucket-registration-list",
    ),
    path(
        "bucket-registrations/<int:pk>/",
        api.BucketRegistrationDetail.as_view(),
        name="api-bucket-registration-detail",
    ),
]
