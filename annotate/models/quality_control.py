"""Quality control rows: a project's quality settings, annotators' attempts at gold tasks
with their scores, and the review sample (which submitted work a reviewer sees, and why).
The rules live in annotate.quality (gold, sampling, stats); imported by
annotate/models/__init__.py.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

UNIT = [MinValueValidator(0.0), MaxValueValidator(1.0)]
# Beyond half, gold would be most of an annotator's work and little real labeling would be done.
MAX_GOLD_SHARE = 0.5


def _unit_range(field: str, name: str, top: float = 1.0) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": top}), name=name
    )


class QualitySettings(models.Model):
    """How a project checks its labels: the share of gold tasks in each annotator's queue,
    what a failed gold task does, how much submitted work is reviewed and how that sample
    is weighted, and when the statistics flag an annotator. A project without a row uses
    the defaults: no gold, every submission reviewed (as before quality control existed)."""

    project = models.OneToOneField(
        "annotate.Project", on_delete=models.CASCADE, related_name="quality_settings"
    )
    gold_share = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_GOLD_SHARE)],
        help_text="Share of each annotator's claims that serve a gold task (0 to 0.5).",
    )
    gold_pass_score = models.FloatField(
        default=0.7,
        validators=UNIT,
        help_text="A gold attempt scoring below this (0 to 1) fails: the annotator's recent "
        "work goes to review.",
    )
    gold_recent_tasks = models.PositiveIntegerField(
        default=10,
        help_text="How many of the annotator's latest submitted tasks a failed gold "
        "attempt sends to review.",
    )
    review_share = models.FloatField(
        default=1.0,
        validators=UNIT,
        help_text="Share of submitted work a reviewer sees (1: all of it).",
    )
    review_min_random_share = models.FloatField(
        default=0.2,
        validators=UNIT,
        help_text="Of the reviewed sample, the share drawn uniformly at random whatever the "
        "weights, so that the weights are checked too.",
    )
    review_batch_size = models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(1)],
        help_text="Submitted tasks sampled together (the share holds per batch).",
    )
    weight_annotator_disagreement = models.FloatField(
        default=1.0, validators=[MinValueValidator(0)]
    )
    weight_model_disagreement = models.FloatField(default=1.0, validators=[MinValueValidator(0)])
    weight_annotator_quality = models.FloatField(default=1.0, validators=[MinValueValidator(0)])
    weight_cost = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0)],
        help_text="How strongly a costly review is put off: a task's weight is divided by its "
        "review cost (relative to the batch's mean) to this power.",
    )
    second_review_share = models.FloatField(
        default=0.0,
        validators=UNIT,
        help_text="Share of accepted reviews that a second reviewer checks (0: no second review).",
    )
    flag_gold_below = models.FloatField(default=0.7, validators=UNIT)
    flag_agreement_below = models.FloatField(default=0.6, validators=UNIT)
    flag_rejection_above = models.FloatField(default=0.3, validators=UNIT)

    EDITABLE_FIELDS = (
        "gold_share",
        "gold_pass_score",
        "gold_recent_tasks",
        "review_share",
        "review_min_random_share",
        "review_batch_size",
        "weight_annotator_disagreement",
        "weight_model_disagreement",
        "weight_annotator_quality",
        "weight_cost",
        "second_review_share",
        "flag_gold_below",
        "flag_agreement_below",
        "flag_rejection_above",
    )

    class Meta:
        verbose_name_plural = "quality settings"
        constraints = [
            _unit_range("gold_share", "quality_gold_share_range", MAX_GOLD_SHARE),
            _unit_range("gold_pass_score", "quality_gold_pass_range"),
            _unit_range("review_share", "quality_review_share_range"),
            _unit_range("review_min_random_share", "quality_random_share_range"),
            _unit_range("second_review_share", "quality_second_review_range"),
            models.CheckConstraint(
                condition=Q(review_batch_size__gte=1), name="quality_batch_positive"
            ),
            models.CheckConstraint(
                condition=Q(weight_annotator_disagreement__gte=0)
                & Q(weight_model_disagreement__gte=0)
                & Q(weight_annotator_quality__gte=0)
                & Q(weight_cost__gte=0),
                name="quality_weights_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"quality settings of {self.project}"

    @classmethod
    def for_project(cls, project_id: int) -> QualitySettings:
        """The project's settings, or the defaults (not saved)."""
        return cls.objects.filter(project_id=project_id).first() or cls(project_id=project_id)


class GoldAttempt(models.Model):
    """One annotator's attempt at a gold task: a copy of the task (`copy`, a task of its own,
    so the gold task's reference is never shown or overwritten) served in their queue, and
    its score against the reference once they submit it."""

    gold_task = models.ForeignKey(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="gold_attempts"
    )
    copy = models.OneToOneField(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="gold_attempt"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gold_attempts"
    )
    score = models.FloatField(null=True, blank=True, validators=UNIT)
    metric = models.CharField(
        max_length=20, blank=True, help_text="What the score is: box_f1, oks, idf1."
    )
    passed = models.BooleanField(null=True, blank=True)
    sent_to_review = models.PositiveIntegerField(
        default=0, help_text="Tasks of the annotator a failed attempt sent to review."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gold_task", "annotator"], name="goldattempt_one_per_annotator"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=1)),
                name="goldattempt_score_range",
            ),
        ]
        indexes = [models.Index(fields=["annotator", "scored_at"], name="goldattempt_user_idx")]

    def __str__(self) -> str:
        return f"gold attempt of task {self.gold_task_id} by user {self.annotator_id}"


class ReviewSample(models.Model):
    """A submitted task's place in the review sample: the signals its weight came from,
    whether it was picked for review (and why), and the phases it went through."""

    class Reason(models.TextChoices):
        ALL = "all", "Every submission is reviewed"
        WEIGHTED = "weighted", "Weighted sample"
        RANDOM = "random", "Minimum random share"
        GOLD_FAILED = "gold_failed", "A failed gold task of its annotator"
        NOT_PICKED = "not_picked", "Not picked"
        NO_BUDGET = "no_budget", "Picked, but the review budget is used up"

    task = models.OneToOneField(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="review_sample"
    )
    annotator_disagreement = models.FloatField(
        null=True, blank=True, help_text="1 - mean agreement between the task's annotators."
    )
    model_disagreement = models.FloatField(
        null=True,
        blank=True,
        help_text="1 - agreement between the model's prediction and the submission "
        "(filled by the app that owns predictions).",
    )
    annotator_quality = models.FloatField(
        null=True, blank=True, help_text="The annotator's gold score when the task was submitted."
    )
    review_cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    weight = models.FloatField(null=True, blank=True)
    picked = models.BooleanField(null=True, blank=True, help_text="Empty: not sampled yet.")
    reason = models.CharField(max_length=12, choices=Reason.choices, blank=True)
    second_review = models.BooleanField(default=False)
    charged = models.DecimalField(
        max_digits=12, decimal_places=4, default=0, help_text="Review money on the ledger."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sampled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(picked__isnull=True) | Q(sampled_at__isnull=False),
                name="reviewsample_sampled_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["sampled_at"],
                condition=Q(sampled_at__isnull=True),
                name="reviewsample_wait_idx",
            )
        ]

    def __str__(self) -> str:
        return f"review sample of task {self.task_id}"
