"""A project's learning settings: what a model version gives the strategies, the one
validator the admin form and the API both call, and saving (which rescores when the queue's
order would change).

A strategy declares what it needs (`Strategy.needs` in activelearn.strategies); a model
version gives what its output layout (an uploaded or baseline ONNX file) or its task type
(pushed predictions) holds. Settings whose strategy needs more than the active version gives
are refused when saved, and a version that cannot feed the saved strategy is refused when
activated, so a setting never fails every scoring run later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.db import transaction

from activelearn.inference.spec import OUTPUT_LAYOUTS, declared_layout
from activelearn.models import LearningSettings, ModelVersion, ScoringRun
from activelearn.scoring.mastery import joint_mastery_refresh
from activelearn.scoring.runs import rescore_project
from activelearn.strategies import (
    AUTO_INPUT,
    BLEND,
    BOXES,
    CLASS_PROBS,
    DEFAULT,
    EMBEDDINGS,
    KEYPOINTS,
    NEED_WORDS,
    STRATEGIES,
    TRACKS,
)
from annotate.models import LabelClass, Project
from annotate.services.errors import InvalidFields

DEFAULT_SUMMARY = (
    "Picked from what the model gives: keypoints, boxes, diverse margin on class "
    "probabilities, else k-center coverage."
)
BLEND_SUMMARY = "A weighted mix of the strategies named in the blend weights."

# What pushed predictions give, by the version's task type (set from the first row pushed).
PUSHED_GIVES: dict[str, frozenset[str]] = {
    ModelVersion.TaskType.CLASSIFICATION: frozenset({CLASS_PROBS}),
    ModelVersion.TaskType.DETECTION: frozenset({BOXES}),
    ModelVersion.TaskType.KEYPOINTS: frozenset({KEYPOINTS}),
    ModelVersion.TaskType.EMBEDDING: frozenset({EMBEDDINGS}),
}
# What scoring makes from what a version gives: boxes on the frames of a video are joined
# into tracks (activelearn.inference.linking).
DERIVED: dict[str, str] = {TRACKS: BOXES}


def _with_derived(gives: frozenset[str]) -> frozenset[str]:
    return gives | {need for need, source in DERIVED.items() if source in gives}


# Everything any version here can give; a need outside it is refused whatever is active.
OBTAINABLE: frozenset[str] = _with_derived(
    frozenset().union(*(layout.gives for layout in OUTPUT_LAYOUTS.values()), *PUSHED_GIVES.values())
)

# Mastery's settings change which keypoints are mastered, hence the keypoint weights too.
MASTERY_FIELDS = frozenset({"mastery_error_threshold", "mastery_versions"})
SCORING_FIELDS = frozenset(
    {"strategy", "blend", "detection_aggregate", "keypoint_weights", *MASTERY_FIELDS}
)


class LearningSettingsInvalid(InvalidFields):
    """Settings refused; `errors` maps a field to its messages, for a 400 or a form."""


# --- what a version gives, what a strategy needs ----------------------------------------------


def version_gives(version: ModelVersion) -> frozenset[str]:
    """What the version's predictions hold for the strategies to read: by its output layout
    (an uploaded or baseline ONNX file), or its task type (pushed predictions)."""
    if version.kind == ModelVersion.Kind.PUSHED:
        return PUSHED_GIVES.get(version.task_type, frozenset())
    spec = version.spec or {}
    layout = OUTPUT_LAYOUTS.get(declared_layout(spec, version.task_type))
    gives = layout.gives if layout is not None else frozenset()
    if spec.get("embedding_output"):
        gives = gives | {EMBEDDINGS}
    return gives


def needs_words(needs: Iterable[str]) -> str:
    words = [NEED_WORDS.get(need, need) for need in sorted(needs)]
    return " and ".join(words) if words else "nothing a strategy reads"


def strategy_problem(
    name: str, version: ModelVersion | None, *, described_as: str = "the active model"
) -> str | None:
    """Why strategy `name` cannot score `version`'s predictions (None: it can). With no
    version, only needs that no version here can ever meet are refused."""
    if name in (DEFAULT, BLEND):
        return None
    strategy = STRATEGIES.get(name)
    if strategy is None:
        return f"unknown strategy {name!r}"
    impossible = strategy.needs - OBTAINABLE
    if impossible or strategy.adapter is None:  # no input adapter: scoring could not feed it
        return (
            f"strategy {name} needs {needs_words(impossible or strategy.needs)}; no model "
            "version here gives "
            "that (neither an uploaded checkpoint, the built-in baseline nor pushed predictions)"
        )
    if version is None:
        return None
    missing = strategy.needs - _with_derived(version_gives(version))
    if missing:
        return (
            f"strategy {name} needs {needs_words(missing)}; {described_as} {version.name!r} "
            f"gives {needs_words(version_gives(version))}"
        )
    return None


def strategy_choices() -> list[tuple[str, str]]:
    """(name, one-line description) of every name the strategy setting takes."""
    return [(DEFAULT, DEFAULT_SUMMARY), (BLEND, BLEND_SUMMARY)] + [
        (name, strategy.summary) for name, strategy in STRATEGIES.items()
    ]


def strategy_choices_for(version: ModelVersion | None) -> list[dict]:
    """Every choice with whether `version` can feed it and why not (for pages and the API)."""
    rows = []
    for name, summary in strategy_choices():
        strategy = STRATEGIES.get(name)
        problem = strategy_problem(name, version)
        rows.append(
            {
                "name": name,
                "summary": summary,
                "needs": sorted(strategy.needs) if strategy else [],
                "usable": problem is None,
                "reason": problem or "",
            }
        )
    return rows


# --- the one validator -------------------------------------------------------------------------


def strategy_errors(
    *,
    settings: LearningSettings,
    version: ModelVersion | None,
    described_as: str = "the active model",
) -> dict[str, list[str]]:
    """The strategy and blend checked against what `version` gives."""
    errors: dict[str, list[str]] = {}
    name = settings.strategy or DEFAULT
    known = {DEFAULT, BLEND, *STRATEGIES}
    if name not in known:
        errors["strategy"] = [f"Unknown strategy; choose one of: {', '.join(sorted(known))}."]
        return errors
    if name == BLEND:
        weights = settings.blend if isinstance(settings.blend, dict) else None
        if not weights:
            return {"blend": ["A blend needs {strategy name: weight, ...}."]}
        problems = []
        for part, weight in weights.items():
            if part not in STRATEGIES:
                problems.append(f"{part}: unknown strategy")
                continue
            if STRATEGIES[part].adapter == AUTO_INPUT:
                problems.append(f"{part}: it mixes the other strategies itself; not in a blend")
                continue
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
                problems.append(f"{part}: the weight must be a positive number")
            problem = strategy_problem(part, version, described_as=described_as)
            if problem:
                problems.append(f"{part}: {problem}")
        if problems:
            errors["blend"] = problems
        return errors
    problem = strategy_problem(name, version, described_as=described_as)
    if problem:
        errors["strategy"] = [problem[0].upper() + problem[1:] + "."]
    return errors


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _keypoint_weight_errors(project: Project, weights: object) -> list[str]:
    if not isinstance(weights, dict):
        return ['Give {"keypoint name": weight, ...}.']
    names = set(project.keypoint_names) if project.keypoints_enabled else set()
    problems = [
        f"{key}: not a keypoint of the project's skeleton" for key in weights if key not in names
    ]
    problems += [
        f"{key}: the weight must be a number >= 0"
        for key, value in weights.items()
        if (number := _number(value)) is None or number < 0
    ]
    return problems


def _threshold_errors(project: Project, thresholds: object) -> list[str]:
    if not isinstance(thresholds, dict):
        return ['Give {"class or keypoint name": 0.9, "*": 0.95}.']
    names = {"*", *LabelClass.objects.filter(project=project).values_list("name", flat=True)}
    if project.keypoints_enabled:
        names |= set(project.keypoint_names)
    problems = [
        f"{key}: not a class or keypoint name of the project, nor *"
        for key in thresholds
        if key not in names
    ]
    problems += [
        f"{key}: the threshold must be a number from 0 to 1"
        for key, value in thresholds.items()
        if (number := _number(value)) is None or not 0 <= number <= 1
    ]
    return problems


def learning_settings_errors(*, settings: LearningSettings) -> dict[str, list[str]]:
    """Every rule on learning settings beyond their fields' own types and minimums (which
    the form and the serializer take from the model): the strategy against the project's
    active version, the blend, keypoint weights and auto-accept thresholds."""
    project = settings.project
    errors = strategy_errors(settings=settings, version=ModelVersion.objects.active_for(project))
    weights = _keypoint_weight_errors(project, settings.keypoint_weights)
    if weights:
        errors["keypoint_weights"] = weights
    thresholds = _threshold_errors(project, settings.auto_accept_thresholds)
    if thresholds:
        errors["auto_accept_thresholds"] = thresholds
    return errors


# --- reading and saving ------------------------------------------------------------------------


def learning_settings_save(
    *, settings: LearningSettings, changed: Iterable[str]
) -> ScoringRun | None:
    """Store checked settings; when what orders the queue changed and a model is active,
    rescore so the queue follows at once. Returns that run, if any."""
    with transaction.atomic():
        settings.save()
        if MASTERY_FIELDS & set(changed):
            joint_mastery_refresh(project=settings.project, settings=settings)
        if SCORING_FIELDS & set(changed) and ModelVersion.objects.active_for(settings.project):
            return rescore_project(project=settings.project, reason=ScoringRun.Reason.MANUAL)
    return None


def learning_settings_update(
    *, project: Project, changes: dict
) -> tuple[LearningSettings, ScoringRun | None]:
    """Apply `changes` (field: value, already of the field's type) after the same checks
    as the admin; raises LearningSettingsInvalid with messages per field."""
    with transaction.atomic():
        # One writer at a time: two edits at once cannot both check against the old row.
        settings, _ = LearningSettings.objects.select_for_update().get_or_create(project=project)
        changed = [field for field, value in changes.items() if getattr(settings, field) != value]
        for field, value in changes.items():
            setattr(settings, field, value)
        errors = learning_settings_errors(settings=settings)
        if errors:
            raise LearningSettingsInvalid(errors)
        run = learning_settings_save(settings=settings, changed=changed)
    return settings, run
