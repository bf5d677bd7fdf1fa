"""Per-project learning settings, model versions, stored predictions, informativeness scores,
scoring runs, what the adaptive strategy learned, retraining rounds and webhooks. (Leases and
the ledger are annotate's.)"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from annotate.models import AnnotationTask, Project
from annotate.models.jobs import DEADLINE_GRACE_S, Job
from annotate.queue.settings import (
    DEFAULT_ANNOTATORS_PER_TASK,
    DEFAULT_AUDIT_SHARE,
    DEFAULT_LEASE_MINUTES,
)

# The most of the budget the random audit may take: beyond half, ranking hardly orders the
# queue any more, and random sampling itself is the better setting.
MAX_AUDIT_SHARE = 0.5
# A keypoint is mastered below this error (1 - mean OKS: 0.15 is a mean OKS of 0.85, about
# where annotators disagree with each other) for this many versions in a row.
DEFAULT_MASTERY_ERROR = 0.15
DEFAULT_MASTERY_VERSIONS = 2


def checkpoint_upload_to(instance: ModelVersion, filename: str) -> str:
    import uuid

    return f"projects/{instance.project_id}/checkpoints/{uuid.uuid4().hex}.onnx"


class LearningSettings(models.Model):
    """How a project's queue is ordered and shared. Set by project managers and ML engineers in
    the admin or the API; checked by activelearn.learning_settings.learning_settings_errors."""

    class RetrainCounts(models.TextChoices):
        # The same two sets as an export's state filter (annotate.exchange.selectors).
        ACCEPTED = "accepted", "Accepted labels (after review)"
        SUBMITTED = "submitted", "Submitted labels (reviewed or not)"

    class Aggregate(models.TextChoices):
        MAX = "max", "Max"
        MEAN = "mean", "Mean"
        SUM = "sum", "Sum"

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="learning")
    strategy = models.CharField(
        max_length=50,
        default="auto",  # activelearn.strategies.DEFAULT_STRATEGY (models sit below strategies)
        help_text="A strategy name from the registry ('auto' learns which pays off), "
        "'default' (picked from what the model gives) or 'blend' to use the weights below.",
    )
    blend = models.JSONField(
        default=dict, blank=True, help_text='{"strategy name": weight, ...} for a blend.'
    )
    detection_aggregate = models.CharField(
        max_length=4, choices=Aggregate.choices, default=Aggregate.MAX
    )
    keypoint_weights = models.JSONField(
        default=dict, blank=True, help_text='{"left_shoulder": 2.0, ...}; missing names weigh 1.'
    )
    # The queue's two settings (annotate.queue.settings reads them from here).
    annotators_per_task = models.PositiveSmallIntegerField(
        default=DEFAULT_ANNOTATORS_PER_TASK, validators=[MinValueValidator(1)]
    )
    lease_minutes = models.PositiveIntegerField(
        default=DEFAULT_LEASE_MINUTES, validators=[MinValueValidator(1)]
    )
    rescore_every_labels = models.PositiveIntegerField(
        default=50, help_text="Rescore after this many new labels; 0 turns it off."
    )
    scoring_chunk_size = models.PositiveIntegerField(default=256, validators=[MinValueValidator(1)])
    retrain_every_accepted = models.PositiveIntegerField(
        default=50,
        help_text="After this many newly accepted labels: call the webhooks and retrain the "
        "built-in baseline; 0 turns it off.",
    )
    retrain_counts = models.CharField(
        max_length=10,
        choices=RetrainCounts.choices,
        default=RetrainCounts.ACCEPTED,
        help_text="Which labels retraining counts and trains on. Submitted: for a project "
        "labeled without a reviewer (one person alone, the demo); a label a reviewer later "
        "rejects leaves the next round.",
    )
    # The random audit (annotate.queue.audit, activelearn.audit) and the stop recommendation.
    audit_share = models.FloatField(
        default=DEFAULT_AUDIT_SHARE,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_AUDIT_SHARE)],
        help_text="Share of every scoring run's batch drawn uniformly from the pool and of "
        "claims that take one (0 to 0.5): the audit labels that measure the model honestly. "
        "The built-in baseline never trains on them. 0 turns the audit off.",
    )
    stop_gain_per_1000 = models.FloatField(
        default=0.005,
        validators=[MinValueValidator(0.0)],
        help_text="Recommend stopping when the forecast gain of the metric per 1,000 more "
        "labels is, at the top of its 95% interval, below this (0.005: half a point of "
        "accuracy). 0 never recommends stopping.",
    )
    auto_accept_thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text='Pre-annotation: {"class or keypoint name": 0.9, "*": 0.95}; a prediction at '
        "or above its threshold is accepted without a human. Empty: every one is a suggestion.",
    )
    # Joint mastery (activelearn.scoring.mastery): a keypoint whose error stays under the
    # threshold for the last versions is pre-filled, no longer asked, and no longer weighs
    # in the keypoint strategy.
    mastery_error_threshold = models.FloatField(
        default=DEFAULT_MASTERY_ERROR,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A keypoint is mastered when its error (1 - its mean OKS on the validation "
        "slice) stays below this (0 to 1) for the last versions below. 0 never masters one.",
    )
    mastery_versions = models.PositiveSmallIntegerField(
        default=DEFAULT_MASTERY_VERSIONS,
        validators=[MinValueValidator(1)],
        help_text="How many of the latest measured model versions must all be under the "
        "threshold for a keypoint to count as mastered.",
    )

    class Meta:
        verbose_name_plural = "learning settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(annotators_per_task__gte=1), name="learning_k_positive"
            ),
            models.CheckConstraint(
                condition=Q(lease_minutes__gte=1), name="learning_lease_positive"
            ),
            models.CheckConstraint(
                condition=Q(audit_share__gte=0) & Q(audit_share__lte=MAX_AUDIT_SHARE),
                name="learning_audit_share_range",
            ),
            models.CheckConstraint(
                condition=Q(stop_gain_per_1000__gte=0), name="learning_stop_gain_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(mastery_error_threshold__gte=0) & Q(mastery_error_threshold__lte=1),
                name="learning_mastery_error_range",
            ),
            models.CheckConstraint(
                condition=Q(mastery_versions__gte=1), name="learning_mastery_versions_positive"
            ),
        ]

    # What managers and ML engineers may change, in the admin and the API alike.
    EDITABLE_FIELDS = (
        "strategy",
        "blend",
        "detection_aggregate",
        "keypoint_weights",
        "annotators_per_task",
        "lease_minutes",
        "rescore_every_labels",
        "scoring_chunk_size",
        "retrain_every_accepted",
        "retrain_counts",
        "auto_accept_thresholds",
        "audit_share",
        "stop_gain_per_1000",
        "mastery_error_threshold",
        "mastery_versions",
    )

    def __str__(self) -> str:
        return f"learning settings of {self.project}"

    @classmethod
    def for_project(cls, project: Project) -> LearningSettings:
        """The project's settings, or the defaults (not saved) when a manager never saved any."""
        return cls.objects.filter(project=project).first() or cls(project=project)


class ModelVersionQuerySet(models.QuerySet):
    def active_for(self, project: Project) -> ModelVersion | None:
        """The project's one active version (the database allows one), or None."""
        return self.filter(project=project, is_active=True).first()


class ModelVersion(models.Model):
    """A model of a project: an uploaded ONNX checkpoint, the built-in baseline, or a name
    under which an outside model pushes predictions. One version per project is active."""

    class Kind(models.TextChoices):
        ONNX = "onnx", "ONNX checkpoint"
        BASELINE = "baseline", "Built-in baseline"
        PUSHED = "pushed", "Pushed predictions"

    class TaskType(models.TextChoices):
        CLASSIFICATION = "classification", "Classification"
        DETECTION = "detection", "Detection"
        KEYPOINTS = "keypoints", "Keypoints"
        EMBEDDING = "embedding", "Embedding"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    name = models.CharField(max_length=100, help_text="Version string, unique in the project.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    file = models.FileField(upload_to=checkpoint_upload_to, max_length=255, blank=True)
    spec = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    notes = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    labels_at_training = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="modelversion_unique_name"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_active=True), name="modelversion_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.name}"


class JointMetric(models.Model):
    """One keypoint of one model version, measured on the validation slice: its mean OKS
    (COCO's formula with the skeleton's sigma of that keypoint) and PCK over the labeled
    points (activelearn.scoring.joint_metrics). Replaced whenever the version is measured."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="joints")
    keypoint = models.CharField(max_length=100)
    oks = models.FloatField(help_text="Mean OKS of this keypoint, 0 to 1.")
    pck = models.FloatField(help_text="Share of points within PCK_ALPHA of the box's side.")
    sigma = models.FloatField(help_text="The OKS sigma it was measured with.")
    points = models.PositiveIntegerField(help_text="Labeled points measured.")
    measured_at = models.DateTimeField()

    class Meta:
        ordering = ["version", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "keypoint"], name="jointmetric_unique"),
            models.CheckConstraint(
                condition=Q(oks__gte=0) & Q(oks__lte=1) & Q(pck__gte=0) & Q(pck__lte=1),
                name="jointmetric_range",
            ),
            models.CheckConstraint(condition=Q(sigma__gt=0), name="jointmetric_sigma_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.keypoint}"

    @property
    def error(self) -> float:
        """What mastery compares with the project's threshold."""
        return 1.0 - self.oks


class Prediction(models.Model):
    """What one model version predicted for one task (pre-annotation and scoring input).
    data: {"probs": [...]} | {"boxes": [...]} | {"keypoints": [...]} | {"embedding": [...]}
    | {"score": x}, per frame for video tasks.

    Stored for bulk loading (a push writes its rows with COPY): the key is (task, model
    version), with no id column, and the references are checked per statement, not per row
    (a foreign key costs PostgreSQL a lookup and a row lock for every inserted row): after
    each INSERT a trigger checks, in one indexed query each, that the new rows' tasks and
    versions exist, and refuses the statement (foreign_key_violation) otherwise. Deleting a
    task or a version removes its predictions: Django's collector in Python, and after every
    DELETE on the task and version tables a trigger that also removes what a push wrote
    meanwhile; an advisory lock per project orders the two (migration 0016 says how), so a
    delete holds up the pushes of its own projects only."""

    pk = models.CompositePrimaryKey("task", "model_version")
    task = models.ForeignKey(
        AnnotationTask,
        on_delete=models.CASCADE,
        related_name="predictions",
        db_constraint=False,
        db_index=False,  # the key's first column
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="predictions", db_constraint=False
    )
    data = models.JSONField(default=dict)
    # The database's default too: a push's COPY leaves the column out (its text then costs
    # neither Python nor PostgreSQL a timestamp per row); now(), its transaction's start.
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    def __str__(self) -> str:
        return f"prediction for task {self.task_id} by version {self.model_version_id}"


class TaskScore(models.Model):
    """Informativeness of a task under one model version (none: the cold-start ordering),
    with each strategy's part, so a manager can see why a task sits where it does."""

    task = models.ForeignKey(AnnotationTask, on_delete=models.CASCADE, related_name="scores")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="scores"
    )
    score = models.FloatField()
    breakdown = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "model_version"],
                nulls_distinct=False,
                name="taskscore_unique_task_version",
            ),
        ]

    def __str__(self) -> str:
        return f"score {self.score:.4f} of task {self.task_id}"


class ScoringRun(Job):
    """One rescoring of a project: split into chunks, each a Celery task. Its states are
    the one job model's (annotate.models.jobs), superseded included: a newer run of the
    project took over before this one finished, which is not a failure."""

    task_name = "activelearn.score_project"
    kind_name = "scoring run"
    # Chunks are upserts on (task, model version): scoring again after a dead worker is safe.
    max_attempts = 3
    restart_fields = {"chunks_total": 0, "chunks_done": 0, "tasks_scored": 0, "progress": 0.0}

    class Reason(models.TextChoices):
        COLD_START = "cold_start", "Cold start"
        ACTIVATION = "activation", "Model version activated"
        PUSH = "push", "Predictions pushed"
        LABELS = "labels", "New labels"
        NEW_TASKS = "new_tasks", "New tasks"
        MANUAL = "manual", "Manual"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="scoring_runs")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    reason = models.CharField(max_length=12, choices=Reason.choices, default=Reason.MANUAL)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    tasks_scored = models.PositiveIntegerField(default=0)
    # A bounded run (activelearn.scoring.runs.bounded_candidates): the tasks it scores, the
    # previous top of the queue and a fresh random sample of the pool. Empty: the whole pool.
    candidates = models.JSONField(
        null=True, blank=True, help_text="Task ids a bounded run scores (empty: the pool)."
    )

    class Meta(Job.Meta):
        ordering = ["-created_at"]
        constraints = [
            *Job.Meta.constraints,
            models.CheckConstraint(
                condition=Q(chunks_done__lte=models.F("chunks_total")),
                name="scoringrun_done_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"scoring of {self.project} ({self.chunks_done}/{self.chunks_total})"


# --- the adaptive strategy (activelearn.strategies.auto, activelearn.scoring.auto) --------


class AutoStrategyState(models.Model):
    """What the `auto` strategy learned on a project: each arm's credit, its log-weight above
    the prior, recomputed from the project's picks (AutoStrategyPick) whenever labels come."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="auto_state")
    credits = models.JSONField(default=dict, blank=True, help_text='{"arm": credit, ...}')
    picks_counted = models.PositiveIntegerField(default=0)
    rewarded_picks = models.PositiveIntegerField(
        default=0, help_text="Picks whose label both versions predicted (they carry a reward)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "auto strategy state"

    def __str__(self) -> str:
        return f"auto strategy of {self.project}"


class AutoStrategyPick(models.Model):
    """A labeled task as `auto` picked it (its probability under the mixture, the arms that
    advised it, the pool and batch of that scoring pass) and what its label says about the
    version that picked it and the version before (how right each was, 0 to 1)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="auto_picks")
    task = models.OneToOneField(AnnotationTask, on_delete=models.CASCADE, related_name="auto_pick")
    model_version = models.ForeignKey(
        ModelVersion, null=True, on_delete=models.SET_NULL, related_name="auto_picks"
    )
    q = models.FloatField(help_text="The task's probability under the mixture when picked.")
    advised = models.JSONField(default=list, blank=True, help_text="Arms whose batch held it.")
    pool = models.PositiveIntegerField()
    batch = models.PositiveIntegerField()
    correct = models.FloatField(null=True, blank=True)
    previous_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_correct = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(q__gt=0, q__lte=1), name="autopick_q_probability"),
            models.CheckConstraint(
                condition=Q(pool__gte=1, batch__gte=1), name="autopick_pool_batch_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"auto pick of task {self.task_id}"


# --- the retraining loop (activelearn.retraining, activelearn.webhooks) -------------------


class RetrainingRound(Job):
    """One turn of the loop, started when `retrain_every_accepted` more labels were accepted:
    the export the webhooks link to and, on the built-in baseline, the version trained.
    Unique per (project, accepted count), so a burst of accepts starts one round. Running
    is training; skipped: too few labels to train or to measure."""

    task_name = "activelearn.retrain_baseline"
    kind_name = "retraining round"
    # A round run again deletes the version a dead run left and trains it anew.
    max_attempts = 2

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="retraining_rounds")
    accepted_count = models.PositiveIntegerField(
        help_text="Labels counted when it started: accepted ones, or submitted ones when the "
        "project's retrain_counts says so."
    )
    export_job = models.ForeignKey(
        "annotate.ExportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated = models.BooleanField(default=False)
    note = models.TextField(blank=True, help_text="Why it was skipped, failed or not activated.")

    class Meta(Job.Meta):
        ordering = ["-created_at"]
        constraints = [
            *Job.Meta.constraints,
            models.UniqueConstraint(
                fields=["project", "accepted_count"], name="retraininground_unique_count"
            ),
        ]

    def __str__(self) -> str:
        return f"retraining of {self.project} at {self.accepted_count} labels ({self.state})"


class WebhookEndpoint(models.Model):
    """An ML engineer's training service, told when new labels are ready. Requests carry
    an HMAC-SHA256 signature of the body made with `secret`."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="Shared with the receiver; signs bodies.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook {self.url} of {self.project}"


class WebhookDelivery(Job):
    """One event sent to one endpoint, retried with backoff; each try is a WebhookAttempt
    and counts as an attempt. Queued between tries, running during one, done when the
    receiver answered 2xx."""

    task_name = "activelearn.webhook_deliver"
    kind_name = "webhook delivery"
    # One try and 8 retries (activelearn.tasks.webhook_deliver); a receiver may see one
    # extra request after a dead worker, which the delivery id header lets it recognise.
    max_attempts = 9

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)

    class Meta(Job.Meta):
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    @classmethod
    def run_deadline_s(cls) -> float:
        # A try is one HTTP request with a short timeout, not an hour of work.
        return min(settings.CELERY_TASK_TIME_LIMIT, 60) + DEADLINE_GRACE_S

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint.url} ({self.state})"


class WebhookAttempt(models.Model):
    """One HTTP try of a delivery: what came back, or why nothing did."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_unique"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error[:60]}"


# --- the audit's figures and the stop recommendation (activelearn.audit) ------------------


class AuditReport(Job):
    """One measurement of a project from its random audit sample (activelearn.audit): the
    active model's metric on the audit labels with an interval, the learning curves of
    actively chosen against audit labels, the labels saved against random sampling, and
    the forecast of what the rest of the budget buys. Started when a scoring run closes a
    batch and when a retraining round ends; a queued one takes in every later start, and
    the newest done one is what the model page shows."""

    task_name = "activelearn.audit_measure"
    kind_name = "audit measurement"
    # It only reads and replaces its own figures: running it again is harmless.
    max_attempts = 2

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audit_reports")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labels = models.PositiveIntegerField(default=0, help_text="Labels counted when it measured.")
    figures = models.JSONField(default=dict, blank=True)

    class Meta(Job.Meta):
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"audit measurement of {self.project} ({self.state})"


class StopRecommendation(models.Model):
    """The first time a project's forecast said more labels hardly help: the gain per 1,000
    labels under the project's threshold. One per project, so the webhooks hear of it once
    (event "learning.stop_recommended")."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="stop_recommendation"
    )
    report = models.ForeignKey(
        AuditReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labels = models.PositiveIntegerField(help_text="Labels counted when it was made.")
    metric = models.CharField(max_length=20)
    gain_per_1000 = models.FloatField(help_text="The forecast gain of the next 1,000 labels.")
    gain_per_1000_high = models.FloatField(help_text="The top of its 95% interval.")
    threshold = models.FloatField(help_text="The project's stop_gain_per_1000 then.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"stop recommended for {self.project} at {self.labels} labels"
