"""How well a task's annotators agreed, stored when their consensus forms
(annotate.services.consensus) so that the review and quality pages read it, never recompute
it. Imported by annotate/models/__init__.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["AnnotatorAgreement", "TaskAgreement"]


class TaskAgreement(models.Model):
    """The agreement of a task's k annotators, from their latest submissions: the mean over
    every pair of annotators of box F1 (at the project's agreement IoU), skeleton F1 and OKS
    (per-joint sigmas), and HOTA, IDF1 and identity switches of their tracks. A figure the
    task has no shapes for is empty. Formed again (the row replaced) when the task is
    resubmitted."""

    task = models.OneToOneField(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="agreement"
    )
    consensus = models.ForeignKey(
        "annotate.Annotation", on_delete=models.CASCADE, related_name="+",
        help_text="The merged version formed with these figures.",
    )  # fmt: skip
    annotators = models.PositiveSmallIntegerField()
    box_f1 = models.FloatField(null=True, blank=True)
    keypoint_f1 = models.FloatField(null=True, blank=True)
    oks = models.FloatField(null=True, blank=True)
    hota = models.FloatField(null=True, blank=True)
    idf1 = models.FloatField(null=True, blank=True)
    idsw = models.FloatField(null=True, blank=True, help_text="Mean over pairs.")
    per_class = models.JSONField(default=dict, help_text="{class: mean pairwise box F1}")
    per_joint = models.JSONField(default=dict, help_text="{joint: mean pairwise similarity}")
    shapes = models.JSONField(
        default=list,
        help_text="Each merged shape: kind, label, frame, track, geometry, members, votes, "
        "support, agreement, kept, disputed (for the review page).",
    )
    tracks = models.JSONField(default=list, help_text="Each merged track, as for shapes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task"]

    def __str__(self) -> str:
        return f"agreement on task {self.task_id}"


class AnnotatorAgreement(models.Model):
    """One annotator's submission of a task against the task's consensus: the same figures
    as TaskAgreement, per class and per joint in `details`."""

    agreement = models.ForeignKey(
        TaskAgreement, on_delete=models.CASCADE, related_name="annotator_rows"
    )
    task = models.ForeignKey(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    annotation = models.ForeignKey(
        "annotate.Annotation", on_delete=models.CASCADE, related_name="+",
        help_text="The submission measured.",
    )  # fmt: skip
    box_f1 = models.FloatField(null=True, blank=True)
    keypoint_f1 = models.FloatField(null=True, blank=True)
    oks = models.FloatField(null=True, blank=True)
    hota = models.FloatField(null=True, blank=True)
    idf1 = models.FloatField(null=True, blank=True)
    idsw = models.IntegerField(null=True, blank=True)
    details = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agreement", "user"], name="annotatoragreement_unique"),
        ]
        indexes = [models.Index(fields=["task", "user"], name="annotatoragreement_task_idx")]

    def __str__(self) -> str:
        return f"agreement of user {self.user_id} on task {self.task_id}"
