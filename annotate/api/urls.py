"""The REST API of annotate, mounted under /api/."""

from django.urls import include, path

from . import burndown, views

urlpatterns = [
    path("", include("annotate.queue.urls")),
    path("token/", views.TokenCreate.as_view(), name="api-token"),
    path("projects/", views.ProjectList.as_view(), name="api-project-list"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="api-project-detail"),
    path("projects/<int:pk>/classes/", views.LabelClassList.as_view(), name="api-class-list"),
    path("projects/<int:pk>/budget/", views.BudgetDetail.as_view(), name="api-budget"),
    path(
        "projects/<int:pk>/budget/burndown/",
        burndown.BudgetBurndown.as_view(),
        name="api-budget-burndown",
    ),
    path("classes/<int:pk>/", views.LabelClassDetail.as_view(), name="api-class-detail"),
    path("assets/", views.AssetList.as_view(), name="api-asset-list"),
    path("assets/<int:pk>/", views.AssetDetail.as_view(), name="api-asset-detail"),
    path("assets/<int:pk>/frames/", views.FrameList.as_view(), name="api-frame-list"),
    path("tasks/", views.TaskList.as_view(), name="api-task-list"),
    path("tasks/<int:pk>/", views.TaskDetail.as_view(), name="api-task-detail"),
    path(
        "tasks/<int:pk>/annotations/",
        views.TaskAnnotationList.as_view(),
        name="api-task-annotations",
    ),
    path(
        "tasks/<int:pk>/annotations/latest/",
        views.TaskLatestAnnotation.as_view(),
        name="api-task-latest-annotation",
    ),
    path("annotations/<int:pk>/", views.AnnotationDetail.as_view(), name="api-annotation"),
    path("", include("annotate.ingest.api_urls")),
    path("", include("annotate.labeling.api_urls")),
    path("", include("annotate.exchange.api_urls")),
    path("", include("annotate.propagation.api_urls")),
    path("", include("annotate.agreement.api_urls")),
]
