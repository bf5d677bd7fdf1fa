"""Page URLs of the active-learning app; included from config.urls."""

from django.urls import path

from activelearn.pages import views

urlpatterns = [
    path("projects/<int:pk>/model/", views.model_queue, name="model-queue"),
]
