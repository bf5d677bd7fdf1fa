from django.apps import AppConfig


class ActivelearnConfig(AppConfig):
    name = "activelearn"
    verbose_name = "Active learning"

    def ready(self) -> None:
        from activelearn import models
        from activelearn.receivers import receivers_connect
        from annotate.permissions import register_scope
        from annotate.queue.settings import queue_settings_source

        receivers_connect()  # annotate's events (annotate.events) reach the loop
        # The queue (annotate.queue) reads k and the lease length from the learning settings.
        queue_settings_source(models.LearningSettings)

        # Everything here belongs to a project: the one access table scopes it too.
        register_scope(models.LearningSettings, "project_id")
        register_scope(models.ModelVersion, "project_id")
        register_scope(models.ScoringRun, "project_id")
        register_scope(models.Prediction, "task__project_id", view="queue.view")
        register_scope(models.TaskScore, "task__project_id", view="queue.view")
        register_scope(models.WebhookEndpoint, "project_id", view="model.manage")
        register_scope(models.WebhookDelivery, "endpoint__project_id", view="model.manage")
        register_scope(models.WebhookAttempt, "delivery__endpoint__project_id", view="model.manage")
        register_scope(models.RetrainingRound, "project_id", view="queue.view")
