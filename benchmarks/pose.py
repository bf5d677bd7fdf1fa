"""Partial labeling of skeletons: `python benchmarks/pose.py`.

Synthetic pose data: BENCH_IMAGES (default 240) 640x480 images with one COCO-17 person each,
its scale and joints drawn at random. A simulated model predicts every joint with an error
of its own per joint: the face, shoulders and hips are good from the start, elbows, wrists,
knees and ankles poor, and each joint gets better as labels arrive (its error falls with the
summed OKS of the labels so far). Its per-keypoint confidence follows its expected accuracy
on that joint, blurred by the error it actually made and some noise.

The same run labels two projects on the real path, round after round (BENCH_BATCH tasks a
round), until the model's mean OKS on held-out people reaches BENCH_TARGET:
- the model's predictions for the pool are pushed through `predictions_push` (a confidence
  per keypoint, checked 0..1, stored in Prediction.data);
- the annotator claims with `task_claim_next` (the budget ledger reserves the task), reads
  `task_suggestions` (the split by the project's per-keypoint threshold, plus the joints the
  model mastered: Project.mastered_keypoints, set as the mastery step would with
  `project_mastered_keypoints_set`), and submits with `task_submit` (the shared validator,
  per-point sources, the ledger charged per point placed).
Partial: the annotator keeps the pre-filled joints and places only those it is asked
(uncertain ones), each with a small hand error. Full: it places all 17 by hand.

Measured: points placed by hand until the target (against the limit: the share of points a
perfectly calibrated confidence, the joint's true OKS, would keep at the threshold), the
mean OKS of the stored labels against the truth each way, and the money each budget charged
(budget_spent, the spend page's read: cost per image plus cost per point placed). Goals:
clicks_saved >= 0.5 and oks_partial no more than 0.02 below oks_full. Last line:
`clicks_saved=<x> oks_partial=<x> oks_full=<x> money_saved=<fraction of the full spend>`.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IMAGES = int(os.environ.get("BENCH_IMAGES", 240))
BATCH = int(os.environ.get("BENCH_BATCH", 20))
TARGET = float(os.environ.get("BENCH_TARGET", 0.80))
THRESHOLD = float(os.environ.get("BENCH_THRESHOLD", 0.9))  # the project's per-keypoint one
MASTERED_OKS = 0.93  # a joint whose model OKS on the labels reaches this is mastered
HELD_OUT = 200
SEED = int(os.environ.get("BENCH_SEED", 7))
WIDTH, HEIGHT = 640, 480
COST_PER_IMAGE = Decimal("0.02")
COST_PER_POINT = Decimal("0.01")

NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
]  # fmt: skip
# COCO's per-keypoint sigmas; OKS uses k = 2 sigma.
SIGMAS = np.array(
    [.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107, .087,
     .087, .089, .089]
)  # fmt: skip
K = 2 * SIGMAS
# The model's error in units of k*scale per joint: at the start, the floor it tends to, and
# how many labels (summed OKS) it takes to close most of the gap.
GOOD = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
START = np.where(GOOD, 0.35, 2.2)
FLOOR = np.where(GOOD, 0.25, 0.45)
TAU = np.where(GOOD, 80.0, 120.0)
HAND = 0.22  # the annotator's own error, same units
# A template pose (fractions of the person's height around its centre).
TEMPLATE = np.array(
    [[0, -.42], [-.03, -.45], [.03, -.45], [-.06, -.43], [.06, -.43], [-.12, -.3], [.12, -.3],
     [-.17, -.12], [.17, -.12], [-.19, .04], [.19, .04], [-.08, .05], [.08, .05], [-.09, .25],
     [.09, .25], [-.09, .45], [.09, .45]]
)  # fmt: skip


def people(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(joints [n, 17, 2], scale [n]): the person's height in pixels as its scale."""
    height = rng.uniform(180, 420, count)
    centre = np.stack(
        [rng.uniform(0.3, 0.7, count) * WIDTH, rng.uniform(0.45, 0.55, count) * HEIGHT], 1
    )
    wiggle = rng.normal(0, 0.025, (count, 17, 2))
    joints = centre[:, None, :] + (TEMPLATE[None] + wiggle) * height[:, None, None]
    return np.clip(joints, 1, [WIDTH - 1, HEIGHT - 1]), height


def oks(points: np.ndarray, truth: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-joint OKS [n, 17] with area = (0.53 * height)^2 as for a standing person's box."""
    area = (0.53 * scale) ** 2
    d2 = ((points - truth) ** 2).sum(-1)
    return np.exp(-d2 / (2 * area[:, None] * K[None] ** 2))


class SimulatedModel:
    """Per-joint error that shrinks as labels arrive; confidences follow the expected
    accuracy of each joint, blurred by the actual error and noise."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.learned = 0.0  # summed OKS of the labels it was trained on

    def error(self) -> np.ndarray:
        return FLOOR + (START - FLOOR) * np.exp(-self.learned / TAU)

    def predict(self, truth: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(truth)
        m = self.error()
        spread = (m * K)[None, :, None] * 0.53 * scale[:, None, None]
        points = truth + self.rng.normal(0, 1, (n, 17, 2)) * spread / np.sqrt(2)
        points = np.clip(points, 0, [WIDTH, HEIGHT])
        expected = 1 / (1 + m**2 / 2)
        actual = oks(points, truth, scale)
        noise = self.rng.normal(0, 0.03, (n, 17))
        confidence = np.clip(0.55 * expected[None] + 0.45 * actual + noise, 0, 1)
        return points, confidence

    def train(self, label_oks: float) -> None:
        self.learned += label_oks


def hand(rng: np.random.Generator, truth: np.ndarray, scale: float) -> np.ndarray:
    spread = HAND * K[:, None] * 0.53 * scale
    return np.clip(truth + rng.normal(0, 1, (17, 2)) * spread / np.sqrt(2), 0, [WIDTH, HEIGHT])


# --- the real path -----------------------------------------------------------------------


def _fresh_database(base_url: str):
    parts = urlsplit(base_url)
    import psycopg

    name = f"bench_pose_{uuid.uuid4().hex[:10]}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _project(name: str, user):
    from activelearn.models import LearningSettings
    from annotate.models import AnnotationTask, Asset, Budget, LabelClass, Membership, Project
    from annotate.schema import skeleton_preset

    project = Project.objects.create(
        name=name, skeleton=skeleton_preset("coco17"), keypoints_enabled=True, box_enabled=False
    )
    LabelClass.objects.create(project=project, name="person", color="#e6194b")
    Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    Budget.objects.create(
        project=project,
        money_limit=Decimal("10000"),
        cost_per_image=COST_PER_IMAGE,
        cost_per_point=COST_PER_POINT,
    )
    LearningSettings.objects.update_or_create(
        project=project, defaults={"auto_accept_thresholds": {"*": THRESHOLD}}
    )
    assets = Asset.objects.bulk_create(
        Asset(
            project=project,
            kind=Asset.Kind.IMAGE,
            file=f"projects/{project.pk}/assets/{index}.jpg",
            original_name=f"{index}.jpg",
            external_key=f"img/{index:05}",
            sha256=f"{project.pk:08x}{index:056x}",
            content_type="image/jpeg",
            width=WIDTH,
            height=HEIGHT,
            state=Asset.State.READY,
        )
        for index in range(IMAGES)
    )
    AnnotationTask.objects.bulk_create(
        AnnotationTask(project=project, asset=a, kind=AnnotationTask.Kind.IMAGE) for a in assets
    )
    return project


def _push(project, version: str, indices: list[int], points, confidence) -> None:
    from activelearn.predictions.push import predictions_push

    rows = [
        {
            "external_key": f"img/{i:05}",
            "keypoints": [
                {
                    "label": "person",
                    "points": {
                        name: {
                            "x": round(float(points[i, j, 0]), 2),
                            "y": round(float(points[i, j, 1]), 2),
                            "confidence": round(float(confidence[i, j]), 4),
                        }
                        for j, name in enumerate(NAMES)
                    },
                }
            ],
        }
        for i in indices
    ]
    result = predictions_push(project=project, rows=rows, model_version_name=version)
    if result.error_count:
        raise SystemExit(f"push refused rows: {result.errors[:3]}")


def run(mode: str, user, truth, scale, held_truth, held_scale, seed: int) -> dict:
    """Label one project ('partial' or 'full') until the model reaches TARGET."""
    from activelearn.predictions.suggestions import task_suggestions
    from annotate.models import AnnotationTask
    from annotate.queue.claim import task_claim_next
    from annotate.queue.services import task_submit
    from annotate.selectors import budget_spent
    from annotate.services.projects import project_mastered_keypoints_set

    rng = np.random.default_rng(seed)
    model = SimulatedModel(np.random.default_rng(seed + 1))
    project = _project(f"pose {mode}", user)
    index_of = {
        pk: int(key.split("/")[1])
        for pk, key in AnnotationTask.objects.filter(project=project).values_list(
            "pk", "asset__external_key"
        )
    }
    labeled: dict[int, np.ndarray] = {}
    model_on_labels: dict[int, np.ndarray] = {}
    hand_points = rounds = oracle_keeps = 0
    model_oks = 0.0
    started = time.perf_counter()
    while True:
        held_points, _ = model.predict(held_truth, held_scale)
        model_oks = float(oks(held_points, held_truth, held_scale).mean())
        if model_oks >= TARGET or len(labeled) >= IMAGES:
            break
        rounds += 1
        pool = [i for i in range(IMAGES) if i not in labeled]
        points, confidence = model.predict(truth, scale)
        _push(project, f"sim-{mode}", pool, points, confidence)
        if mode == "partial" and model_on_labels:
            # The mastery step: joints the model gets right on the labeled people.
            per_joint = np.mean(list(model_on_labels.values()), axis=0)
            project_mastered_keypoints_set(
                project=project,
                names=[NAMES[j] for j in range(17) if per_joint[j] >= MASTERED_OKS],
            )
        gained = 0.0
        for _ in range(min(BATCH, len(pool))):
            lease = task_claim_next(user=user, project=project)
            task = lease.task
            i = index_of[task.pk]
            placed = hand(rng, truth[i], scale[i])
            stored = np.zeros((17, 2))
            sources = {}
            confidences = {}
            sure: set[str] = set()
            if mode == "partial":
                answer = task_suggestions(task=task)
                for shape in answer["accepted"]:
                    for name, point in shape["points"].items():
                        if point[2]:
                            sure.add(name)
                            stored[NAMES.index(name)] = point[:2]
                            confidences[name] = shape["point_confidence"][name]
            for j, name in enumerate(NAMES):
                if name in sure:
                    sources[name] = "model"
                else:
                    stored[j] = placed[j]
                    sources[name] = "human"
                    hand_points += 1
            payload = {
                "keypoints": [
                    {
                        "label": "person",
                        "points": {
                            name: [round(float(stored[j, 0]), 2), round(float(stored[j, 1]), 2), 2]
                            for j, name in enumerate(NAMES)
                        },
                        "source": "human",
                        "point_sources": sources,
                        "point_confidence": confidences,
                    }
                ]
            }
            task_submit(task=task, user=user, payload=payload, base_version=None)
            labeled[i] = stored
            model_on_labels[i] = oks(points[i : i + 1], stored[None], scale[i : i + 1])[0]
            # The limit: a perfectly calibrated confidence (the joint's true OKS) at the
            # same threshold would keep these.
            truly = oks(points[i : i + 1], truth[i : i + 1], scale[i : i + 1])[0]
            oracle_keeps += int((truly >= THRESHOLD).sum())
            gained += float(oks(stored[None], truth[i : i + 1], scale[i : i + 1]).mean())
        model.train(gained)
    label_oks = [
        float(oks(stored[None], truth[i : i + 1], scale[i : i + 1]).mean())
        for i, stored in labeled.items()
    ]
    spend = budget_spent(project)
    return {
        "mode": mode,
        "tasks": len(labeled),
        "rounds": rounds,
        "hand_points": hand_points,
        "oracle_saved": oracle_keeps / (17 * len(labeled)) if labeled else 0.0,
        "label_oks": float(np.mean(label_oks)) if label_oks else 0.0,
        "model_oks": model_oks,
        "money": spend.money_spent,
        "money_saved_shown": spend.money_saved,
        "points_prefilled": spend.points_prefilled,
        "points_by_hand": spend.points_by_hand,
        "mastered": list(project.mastered_keypoints),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    from annotate.embedded.postgres import ensure_database_url

    database_url, drop = _fresh_database(ensure_database_url())
    try:
        _setup_django(database_url)
        from django.contrib.auth.models import User

        user = User.objects.create_user("annotator", password=uuid.uuid4().hex)
        rng = np.random.default_rng(SEED)
        truth, scale = people(rng, IMAGES)
        held_truth, held_scale = people(rng, HELD_OUT)
        results = {
            mode: run(mode, user, truth, scale, held_truth, held_scale, seed=SEED + 4)
            for mode in ("partial", "full")
        }
    finally:
        from django.db import connections

        connections.close_all()
        drop()
    for r in results.values():
        print(
            f"{r['mode']:>7}: {r['tasks']} tasks in {r['rounds']} rounds to model OKS "
            f"{r['model_oks']:.3f}; {r['hand_points']} points by hand "
            f"(ledger: {r['points_by_hand']} by hand, {r['points_prefilled']} pre-filled), "
            f"label OKS {r['label_oks']:.4f}; charged {r['money']:.2f} USD, spend page shows "
            f"{r['money_saved_shown']:.2f} saved; mastered {len(r['mastered'])} joints; "
            f"{r['seconds']:.1f} s"
        )
    partial, full = results["partial"], results["full"]
    clicks_saved = 1 - partial["hand_points"] / full["hand_points"]
    money_saved = 1 - float(partial["money"]) / float(full["money"])
    ok = clicks_saved >= 0.5 and partial["label_oks"] >= full["label_oks"] - 0.02
    print(
        f"limit: a perfectly calibrated confidence at the same threshold would keep "
        f"{partial['oracle_saved']:.3f} of the points over the same tasks"
    )
    print(f"target model OKS {TARGET}, threshold {THRESHOLD}: goals {'met' if ok else 'NOT met'}")
    print(
        f"clicks_saved={clicks_saved:.3f} oks_partial={partial['label_oks']:.4f} "
        f"oks_full={full['label_oks']:.4f} money_saved={money_saved:.3f}"
    )


if __name__ == "__main__":
    main()
