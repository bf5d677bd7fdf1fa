"""The audit's figures endpoint; included from activelearn.api.urls."""

from django.urls import path

from activelearn.api import audit_views

urlpatterns = [
    path("projects/<int:pk>/audit/", audit_views.AuditView.as_view(), name="api-audit"),
]
