"""Pages of labeling and review; the annotate URL map includes it."""

from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:pk>/label/", views.label_next, name="label-next"),
    path("projects/<int:pk>/review/", views.review_list, name="review-list"),
    path("tasks/<int:pk>/label/", views.task_label, name="task-label"),
    path("tasks/<int:pk>/review/", views.task_review, name="task-review"),
]
