"""API routes of agreement; annotate.api.urls includes them under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path("tasks/<int:pk>/consensus/", api.TaskConsensusView.as_view(), name="api-task-consensus"),
    path(
        "projects/<int:pk>/agreement/",
        api.ProjectAgreementView.as_view(),
        name="api-project-agreement",
    ),
]
