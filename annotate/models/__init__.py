"""Projects, their label schema and members; media assets and frames; annotation tasks;
versioned annotations with their shapes; budgets.

Models hold fields, constraints and one-row helpers; the rules live in services and selectors.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Collate

from annotate.attributes import schema_problems
from annotate.hotkeys import hotkey_problem
from annotate.models.choices import PropagationBelow
from annotate.schema import skeleton_errors


def validate_attribute_schema(value: object) -> None:
    problems = schema_problems(value)
    if problems:
        raise ValidationError(problems)


def _generated_name(folder: str, filename: str) -> str:
    """Stored names are generated; the user's file name never reaches the file system."""
    suffix = PurePosixPath(filename).suffix.lower()
    if not suffix[1:].isalnum() or len(suffix) > 6:
        suffix = ""
    return f"{folder}/{uuid.uuid4().hex}{suffix}"


def asset_upload_to(instance: Asset, filename: str) -> str:
    return _generated_name(f"projects/{instance.project_id}/assets", filename)


def thumbnail_upload_to(instance: Asset, filename: str) -> str:
    return _generated_name(f"projects/{instance.project_id}/thumbs", filename)


def frame_upload_to(instance: Frame, filename: str) -> str:
    return _generated_name(
        f"projects/{instance.asset.project_id}/frames/{instance.asset_id}", filename
    )


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    skeleton = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"keypoints": [names in order], "edges": [[name, name], ...], '
        '"sigmas": {name: OKS sigma, one per keypoint; optional}}',
    )
    # Keypoint names whose model error stayed under the mastery threshold for the last
    # versions: pre-filled, no longer asked. Written by the loop (activelearn) through
    # annotate.services.projects.project_mastered_keypoints_set, never by hand.
    mastered_keypoints = models.JSONField(default=list, blank=True, editable=False)
    box_enabled = models.BooleanField("boxes", default=True)
    keypoints_enabled = models.BooleanField("keypoints", default=False)
    tracks_enabled = models.BooleanField("video tracks", default=False)
    frame_stride = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Extract every n-th frame of a video.",
    )
    segment_length = models.PositiveIntegerField(
        default=50,
        validators=[MinValueValidator(1)],
        help_text="Extracted frames per video task; a segment keeps tracks continuous.",
    )
    propagation_min_confidence = models.FloatField(
        "propagation threshold",
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A shape carried by propagation with a confidence below this (0 to 1) stops "
        "its track there, or is flagged for a human to check.",
    )
    propagation_below = models.CharField(
        "below the threshold",
        max_length=4,
        choices=PropagationBelow.choices,
        default=PropagationBelow.FLAG,
    )
    # With several annotators per task (the project's learning settings), their submissions
    # are merged into a consensus (annotate.services.consensus).
    consensus_quorum = models.FloatField(
        "consensus quorum",
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A shape only some annotators drew is kept in the consensus when at least "
        "this share of them (0 to 1) drew it.",
    )
    agreement_iou = models.FloatField(
        "agreement IoU",
        default=0.5,
        validators=[MinValueValidator(0.05), MaxValueValidator(1.0)],
        help_text="Two boxes are the same object at this IoU or more (consensus and box F1); "
        "skeletons pair at the same OKS.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(frame_stride__gte=1), name="project_stride_positive"
            ),
            models.CheckConstraint(
                condition=Q(segment_length__gte=1), name="project_segment_positive"
            ),
            models.CheckConstraint(
                condition=Q(propagation_min_confidence__gte=0)
                & Q(propagation_min_confidence__lte=1),
                name="project_propagation_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(consensus_quorum__gte=0) & Q(consensus_quorum__lte=1),
                name="project_consensus_quorum_range",
            ),
            models.CheckConstraint(
                condition=Q(agreement_iou__gt=0) & Q(agreement_iou__lte=1),
                name="project_agreement_iou_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = skeleton_errors(self.skeleton)
        if errors:
            raise ValidationError({"skeleton": errors})
        if self.keypoints_enabled and not (self.skeleton or {}).get("keypoints"):
            raise ValidationError({"skeleton": "Keypoints are on: choose or define a skeleton."})

    @property
    def keypoint_names(self) -> list[str]:
        return list((self.skeleton or {}).get("keypoints", []))


class LabelClass(models.Model):
    """An object class of a project's schema. Removing a class deactivates it, so that
    earlier annotation versions that used it stay readable."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    color = models.CharField(
        max_length=7,
        default="#e6194b",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f77b4.")],
    )
    hotkey = models.CharField(
        max_length=1,
        blank=True,
        validators=[RegexValidator(r"^[0-9a-z]$", "One lower-case letter or digit.")],
    )
    order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    attributes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_attribute_schema],
        help_text=(
            'Attributes of this class\'s shapes (annotate.attributes), e.g. [{"name": "color", '
            '"input": "select", "values": ["red", "blue"], "mutable": false}]; input is '
            "checkbox, select, number (with min, max, step) or text."
        ),
    )

    class Meta:
        ordering = ["project", "order", "id"]
        verbose_name_plural = "label classes"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="labelclass_unique_name"),
            models.UniqueConstraint(
                fields=["project", "hotkey"],
                condition=~Q(hotkey=""),
                name="labelclass_unique_hotkey",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problem = hotkey_problem(self.hotkey)
        if problem:
            raise ValidationError({"hotkey": problem})


class Membership(models.Model):
    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        REVIEWER = "reviewer", "Reviewer"
        MANAGER = "manager", "Project manager"
        ML_ENGINEER = "ml_engineer", "ML engineer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.get_role_display()}"


class Asset(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to=asset_upload_to, max_length=255)
    original_name = models.CharField(
        max_length=255, blank=True, help_text="As uploaded; shown escaped, never used as a path."
    )
    external_key = models.CharField(max_length=255, blank=True, db_index=True)
    # Registered from object storage (annotate.buckets): the object is the asset's file, read
    # from its bucket; `file` stays empty. Uploaded assets have neither.
    source = models.ForeignKey(
        "annotate.BucketSource",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assets",
    )
    object_key = models.CharField(max_length=1024, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    frame_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Frames counted by decoding, not the container's claim."
    )
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    thumbnail = models.FileField(upload_to=thumbnail_upload_to, max_length=255, blank=True)
    features = models.JSONField(
        null=True, blank=True, help_text="Cheap features made at ingest (colour histogram)."
    )
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.PENDING, db_index=True
    )
    failure_reason = models.TextField(blank=True)
    progress = models.FloatField(default=0.0, help_text="Processing progress, 0 to 1.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "id"]
        constraints = [
            # Registered objects have no hash until... never: they are told apart by key.
            models.UniqueConstraint(
                fields=["project", "sha256"],
                condition=~Q(sha256=""),
                name="asset_unique_sha256",
            ),
            models.UniqueConstraint(
                fields=["source", "object_key"],
                condition=Q(source__isnull=False),
                name="asset_unique_object",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="asset_progress_range"
            ),
            models.CheckConstraint(
                condition=~Q(state="failed") | ~Q(failure_reason=""),
                name="asset_failure_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "state"]),
            # A pushed prediction names its asset by external key or file name, looked up a
            # batch of keys at a time: compared bytewise (the lookup says COLLATE "C"; the
            # same equality as the database's collation, without its cost per comparison).
            models.Index(F("project"), Collate("external_key", "C"), name="asset_project_key_c"),
            models.Index(F("project"), Collate("original_name", "C"), name="asset_project_name_c"),
        ]

    def __str__(self) -> str:
        return self.original_name or f"asset {self.pk}"


class Frame(models.Model):
    """One extracted video frame. `index` is the frame number in the source video."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveIntegerField()
    timestamp = models.FloatField(help_text="Seconds from the start of the video.")
    image = models.FileField(upload_to=frame_upload_to, max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        ordering = ["asset", "index"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "index"], name="frame_unique_index"),
        ]

    def __str__(self) -> str:
        return f"{self.asset} #{self.index}"


class AnnotationTask(models.Model):
    """The unit an annotator labels: one image, or a segment of consecutive extracted frames
    of one video so that tracks stay continuous. Named so it never blurs with a Celery task."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video segment"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted"
        IN_REVIEW = "in_review", "In review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Skipped"

    # Groups of states, one meaning each: code names a group rather than listing states.
    # (Set once the enum exists: inside its body a tuple would become one more state.)
    # Waiting for an annotator: new, being labeled, or sent back by a reviewer.
    State.IN_QUEUE = (State.PENDING, State.IN_PROGRESS, State.REJECTED)
    # Labeled: an annotator's submission stands (waiting for review, or accepted). Its
    # annotator cannot change it; retraining, exports of "submitted" work and evaluation use it.
    State.LABELED = (State.SUBMITTED, State.IN_REVIEW, State.ACCEPTED)
    # Waiting for a reviewer's decision.
    State.AWAITING_REVIEW = (State.SUBMITTED, State.IN_REVIEW)
    # A reviewer decided.
    State.REVIEWED = (State.ACCEPTED, State.REJECTED)
    # Handed in at least once, so its labeling is spent: LABELED and also REJECTED, since a
    # rejection sends the work back without refunding what labeling it cost.
    State.HANDED_IN = (*State.LABELED, State.REJECTED)

    # No single-column indexes here: the composite indexes below lead with these columns,
    # and every extra index slows the bulk priority writes of a re-rank.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    frame_start = models.PositiveIntegerField(
        null=True, blank=True, help_text="First source frame index of the segment."
    )
    frame_end = models.PositiveIntegerField(
        null=True, blank=True, help_text="Last source frame index of the segment (inclusive)."
    )
    frame_count = models.PositiveIntegerField(
        default=1, help_text="Frames to label in this task (1 for an image)."
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    # The priority is not here: the queue's order lives in a narrow table of its own
    # (QueueEntry, annotate.queue.priorities), so that a re-rank never rewrites task rows.
    lease_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leased_tasks",
        db_index=False,
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotated_tasks",
        db_index=False,
        help_text="Who labeled it; a rejected task returns to this person.",
    )
    skip_reason = models.TextField(blank=True)
    # The random audit share (annotate.queue.audit): each scoring run's batch draws a share of
    # the pending pool uniformly at random; the claim hands those out in their own random
    # order at that share of claims, never by priority. Kept once the task is labeled: the
    # labeled audit tasks are the project's uniform sample.
    audit_drawn_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a batch drew the task for the random audit (empty: not an audit task).",
    )
    audit_order = models.PositiveIntegerField(
        null=True, blank=True, help_text="Its place in the audit's random claim order."
    )
    # What the submissions of the task placed, counted when each is handed in: the work a
    # budget may charge per point and per box (work_cost_expression), and what pre-filling by
    # a model or by propagation saved.
    points_by_hand = models.PositiveIntegerField(default=0)
    points_prefilled = models.PositiveIntegerField(default=0)
    boxes_by_hand = models.PositiveIntegerField(default=0)
    boxes_prefilled = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Gold (annotate.queue.gold): a manager's task with a reference annotation, served to
    # annotators as copies (gold_of names a copy's gold task) and scored against the reference.
    is_gold = models.BooleanField(default=False)
    gold_reference = models.ForeignKey(
        "Annotation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The reference annotation gold attempts are scored against.",
        # Indexed where set (task_gold_reference_idx): every claim and submit updates a
        # task row, and a full index would take an entry for each (NULL) one.
        db_index=False,
    )
    gold_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="gold_copies",
        db_index=False,
        help_text="A copy served to one annotator: the gold task it copies.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "id"]
        verbose_name = "annotation task"
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="image") & Q(frame_start__isnull=True))
                | (
                    Q(kind="video")
                    & Q(frame_start__isnull=False)
                    & Q(frame_end__gte=F("frame_start"))
                ),
                name="task_segment_shape",
            ),
            models.CheckConstraint(
                condition=Q(lease_user__isnull=True) | Q(lease_expires_at__isnull=False),
                name="task_lease_has_expiry",
            ),
            # Gold copies repeat their gold task's segment, one per annotator.
            models.UniqueConstraint(
                fields=["asset", "frame_start"],
                condition=Q(gold_of__isnull=True),
                name="task_unique_segment",
            ),
            models.CheckConstraint(
                condition=Q(gold_reference__isnull=True) | Q(is_gold=True),
                name="task_reference_is_gold",
            ),
            models.CheckConstraint(
                condition=Q(gold_of__isnull=True) | Q(is_gold=False), name="task_copy_not_gold"
            ),
            models.CheckConstraint(
                condition=(Q(audit_drawn_at__isnull=True) & Q(audit_order__isnull=True))
                | (Q(audit_drawn_at__isnull=False) & Q(audit_order__isnull=False)),
                name="task_audit_has_order",
            ),
        ]
        indexes = [
            # A project's tasks in one state (the queue's order is QueueEntry's).
            models.Index(fields=["project", "state", "id"], name="task_queue_idx"),
            # Partial: most tasks have no holder and no annotator yet, and every index entry
            # is rewritten when a re-rank changes a task's priority.
            # The task lists (API and admin) of a project, in keyset pages by id.
            models.Index(fields=["project", "id"], name="task_project_list_idx"),
            models.Index(
                fields=["lease_user", "state"],
                name="task_lease_idx",
                condition=Q(lease_user__isnull=False),
            ),
            models.Index(
                fields=["annotator"],
                name="task_annotator_idx",
                condition=Q(annotator__isnull=False),
            ),
            # "Submitted since the last scoring run", asked on every submission: partial, so
            # it holds labeled tasks only and a re-rank of the pending ones never touches it.
            models.Index(
                fields=["project", "submitted_at"],
                name="task_submitted_idx",
                condition=Q(submitted_at__isnull=False),
            ),
            # The audit's own queue (its claim order) and its labeled sample; partial, so a
            # re-rank of the other tasks never touches it.
            models.Index(
                fields=["project", "state", "audit_order", "id"],
                name="task_audit_idx",
                condition=Q(audit_drawn_at__isnull=False),
            ),
            models.Index(
                fields=["gold_of"], name="task_gold_of_idx", condition=Q(gold_of__isnull=False)
            ),
            models.Index(fields=["project"], name="task_gold_idx", condition=Q(is_gold=True)),
            models.Index(
                fields=["gold_reference"],
                name="task_gold_reference_idx",
                condition=Q(gold_reference__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.VIDEO:
            return f"{self.asset} frames {self.frame_start}-{self.frame_end}"
        return str(self.asset)


class Track(models.Model):
    """One object followed across the frames of one video."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="tracks")
    number = models.PositiveIntegerField()
    label_class = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="tracks")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["asset", "number"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "number"], name="track_unique_number"),
        ]

    def __str__(self) -> str:
        return f"track {self.number} of {self.asset}"


class Annotation(models.Model):
    """One saved version of a task's labels by one user. Never updated: a save is a new row,
    carrying the version it started from, so a stale save can be told apart (409)."""

    class Kind(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMISSION = "submission", "Submission"
        IMPORT = "import", "Import"
        # Merged from the submissions of a task's k annotators (annotate.services.consensus);
        # it is what review and exports take. Its author is empty: no one person drew it.
        CONSENSUS = "consensus", "Consensus"

    task = models.ForeignKey(AnnotationTask, on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    version = models.PositiveIntegerField()
    base_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version this save started from."
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "-version"]
        get_latest_by = "version"
        constraints = [
            models.UniqueConstraint(fields=["task", "version"], name="annotation_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="annotation_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.task} v{self.version}"


class ShapeSource(models.TextChoices):
    HUMAN = "human", "Human"
    MODEL = "model", "Model"
    # Carried from another frame by optical flow (annotate.propagation), with its confidence.
    PROPAGATION = "propagation", "Propagation"


SOURCE_MAX_LENGTH = 12


class Box(models.Model):
    """An axis-aligned box in image pixels (x, y: top-left corner).

    A tracked box is a keyframe of its track (or, with keyframe false, a stored copy of the
    interpolation there); an `outside` keyframe says the object is gone from that frame on
    until the track's next keyframe. annotate.track_shapes computes the frames between."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="boxes")
    frame = models.ForeignKey(
        Frame, null=True, blank=True, on_delete=models.CASCADE, related_name="boxes"
    )
    label_class = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="boxes")
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="boxes"
    )
    x = models.FloatField()
    y = models.FloatField()
    w = models.FloatField()
    h = models.FloatField()
    keyframe = models.BooleanField(default=True)
    outside = models.BooleanField(
        default=False, help_text="The tracked object is gone from this frame on."
    )
    occluded = models.BooleanField(default=False, help_text="Partly hidden (CVAT's flag).")
    attributes = models.JSONField(
        default=dict, blank=True, help_text="{name: value} per the class's attribute schema."
    )
    source = models.CharField(
        max_length=SOURCE_MAX_LENGTH, choices=ShapeSource.choices, default=ShapeSource.HUMAN
    )
    confidence = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
    )

    class Meta:
        verbose_name_plural = "boxes"
        constraints = [
            models.CheckConstraint(condition=Q(w__gt=0) & Q(h__gt=0), name="box_positive_size"),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True)
                | (Q(confidence__gte=0) & Q(confidence__lte=1)),
                name="box_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(source="human") | Q(confidence__isnull=False),
                name="box_model_has_confidence",
            ),
            models.CheckConstraint(
                condition=Q(outside=False) | (Q(keyframe=True) & Q(track__isnull=False)),
                name="box_outside_is_a_track_keyframe",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label_class} box ({self.x:.0f}, {self.y:.0f}, {self.w:.0f}x{self.h:.0f})"


class KeypointInstance(models.Model):
    """One skeleton: points = {name: [x, y, visibility]} with COCO visibility
    0 = not labeled, 1 = labeled but occluded, 2 = labeled and visible. Tracked skeletons are
    keyframes with `outside` as for Box.

    Per labeled point, who set it and how sure it was: point_sources {name: "human" |
    "model" | "propagation"} and point_confidence {name: 0..1} (a model's or propagation's
    points; a person's have none). A point a person moved is theirs; one they confirmed
    where the model put it stays the model's, so retraining can tell the two apart."""

    annotation = models.ForeignKey(
        Annotation, on_delete=models.CASCADE, related_name="keypoint_instances"
    )
    frame = models.ForeignKey(
        Frame, null=True, blank=True, on_delete=models.CASCADE, related_name="keypoint_instances"
    )
    label_class = models.ForeignKey(
        LabelClass, on_delete=models.PROTECT, related_name="keypoint_instances"
    )
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="keypoint_instances"
    )
    points = models.JSONField(default=dict)
    keyframe = models.BooleanField(default=True)
    outside = models.BooleanField(
        default=False, help_text="The tracked object is gone from this frame on."
    )
    occluded = models.BooleanField(default=False, help_text="Partly hidden (CVAT's flag).")
    attributes = models.JSONField(
        default=dict, blank=True, help_text="{name: value} per the class's attribute schema."
    )
    source = models.CharField(
        max_length=SOURCE_MAX_LENGTH, choices=ShapeSource.choices, default=ShapeSource.HUMAN
    )
    confidence = models.FloatField(null=True, blank=True)
    point_sources = models.JSONField(default=dict, blank=True)
    point_confidence = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__isnull=True)
                | (Q(confidence__gte=0) & Q(confidence__lte=1)),
                name="kpi_confidence_range",
            ),
            models.CheckConstraint(
                condition=Q(outside=False) | (Q(keyframe=True) & Q(track__isnull=False)),
                name="kpi_outside_is_a_track_keyframe",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label_class} keypoints"


class Review(models.Model):
    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"

    task = models.ForeignKey(AnnotationTask, on_delete=models.CASCADE, related_name="reviews")
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    decision = models.CharField(max_length=6, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision="accept") | ~Q(comment=""),
                name="review_reject_has_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.task}"


class Budget(models.Model):
    """What a project may spend. Spent is derived from submitted and reviewed work
    (annotate.selectors.budget_spent), never typed in."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="budget")
    currency = models.CharField(max_length=3, default="USD")
    money_limit = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Empty: no money cap."
    )
    task_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no cap.")
    cost_per_image = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0.05"))
    cost_per_video_frame = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0.02")
    )
    cost_per_point = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        help_text="Charged per keypoint a person placed (pre-filled points are free).",
    )
    cost_per_box = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        help_text="Charged per box a person drew (pre-filled boxes are free).",
    )
    label_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.8"),
        help_text="Share of the money budget for the label phase (0 to 1).",
    )
    review_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.2"),
        help_text="Share of the money budget for the review phase (0 to 1).",
    )
    review_cost_factor = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.25"),
        help_text="Cost of reviewing a task as a fraction of the cost of labeling it.",
    )
    second_review_cost_factor = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.25"),
        help_text="Cost of a second review as a fraction of the cost of labeling the task.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(money_limit__isnull=True) | Q(money_limit__gte=0),
                name="budget_money_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(cost_per_image__gte=0) & Q(cost_per_video_frame__gte=0),
                name="budget_costs_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(cost_per_point__gte=0) & Q(cost_per_box__gte=0),
                name="budget_work_costs_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(label_share__gte=0)
                & Q(review_share__gte=0)
                & Q(review_cost_factor__gte=0)
                & Q(second_review_cost_factor__gte=0),
                name="budget_shares_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(label_share__lte=Decimal("1") - F("review_share")),
                name="budget_shares_at_most_one",
            ),
        ]

    def __str__(self) -> str:
        return f"budget of {self.project}"

    def task_cost(self, task: AnnotationTask) -> Decimal:
        """What labeling `task` costs under this budget: task_cost_expression for one row."""
        return task_cost_expression(
            "",
            models.Value(self.cost_per_image, output_field=MONEY),
            models.Value(self.cost_per_video_frame, output_field=MONEY),
            task=task,
        )


MONEY = models.DecimalField(max_digits=18, decimal_places=4)


def task_cost_expression(prefix: str, cost_per_image, cost_per_video_frame, *, task=None):
    """The one rule of what labeling a task costs: a video segment by its frames at the
    price per video frame, an image at the price per image.

    Returns a Django expression over the task reached through `prefix` ("" from
    AnnotationTask, "tasks__" from Project), for the spend aggregates, the burn-down and
    the claim's charge (`cost_per_*` are expressions: F() paths or Values). Given a `task`
    (a row already in memory) it evaluates the same rule on it instead, so the claim does not
    need a query to price the task it just locked."""
    if task is not None:
        price = cost_per_video_frame if task.kind == AnnotationTask.Kind.VIDEO else cost_per_image
        units = task.frame_count if task.kind == AnnotationTask.Kind.VIDEO else 1
        return price.value * units
    return models.Case(
        models.When(
            **{f"{prefix}kind": AnnotationTask.Kind.VIDEO},
            then=cost_per_video_frame * F(f"{prefix}frame_count"),
        ),
        default=cost_per_image,
        output_field=MONEY,
    )


def work_cost_expression(prefix: str, cost_per_point, cost_per_box, *, task=None):
    """What the work placed in a task costs on top of task_cost_expression: each point and
    each box a person placed at the budget's price (pre-filled ones cost nothing). Charged
    when a submission is handed in, since only then is the work known. Arguments as for
    task_cost_expression; with `task`, evaluated on that row in memory."""
    if task is not None:
        return cost_per_point.value * task.points_by_hand + cost_per_box.value * task.boxes_by_hand
    return models.ExpressionWrapper(
        cost_per_point * F(f"{prefix}points_by_hand") + cost_per_box * F(f"{prefix}boxes_by_hand"),
        output_field=MONEY,
    )


def work_saved_expression(prefix: str, cost_per_point, cost_per_box):
    """What pre-filling saved: the pre-filled points and boxes at the budget's prices."""
    return models.ExpressionWrapper(
        cost_per_point * F(f"{prefix}points_prefilled")
        + cost_per_box * F(f"{prefix}boxes_prefilled"),
        output_field=MONEY,
    )


# The one job model, export and import jobs, and the queue's leases and ledger live in
# modules of their own; imported here so Django registers them.
from annotate.models.buckets import BucketRegistration, BucketSource  # noqa: E402,F401
from annotate.models.exchange_jobs import ExportJob, ImportJob  # noqa: E402,F401
from annotate.models.jobs import Job, JobState  # noqa: E402,F401
from annotate.models.propagation_jobs import PropagationJob  # noqa: E402,F401
from annotate.models.quality import AnnotatorAgreement, TaskAgreement  # noqa: E402,F401
from annotate.models.quality_control import (  # noqa: E402,F401
    GoldAttempt,
    QualitySettings,
    ReviewSample,
)
from annotate.models.queue import (  # noqa: E402,F401
    BudgetLedger,
    QueueEntry,
    QueueGeneration,
    TaskLease,
    holds_task,
    task_priority_expression,
)
