"""Quality control on simulated annotators: does the gold score rank annotators by their true
error, and does the weighted review sample find more wrong work per review than random
review at the same budget?

    .venv/bin/python benchmarks/quality.py [--images 150] [--videos 30] [--seed 1]

Creates its own database (bench_quality, dropped first) on DATABASE_URL's server (or the
embedded PostgreSQL) and drives the real path in process: the queue API (next task,
submit) for every claim and submission, gold copies served by the claim at the project's
gold share and scored on submit, the review sample run through its API, the annotator
statistics from annotate.quality.stats.

Synthetic data: image tasks with 2 to 6 boxes of two classes, 15% of them small
(under 24 px); video segments of 10 frames with two moving tracks. Three annotators label
each task (annotators_per_task = 3). The simulated annotators have known error rates per
object (a wrong object is dropped or badly placed, plus false boxes): two careful (1%, 3%),
two average (6%, 10%), one careless (25%), and one who never draws small objects. A
simulated model (15% error) gives the model disagreement, stored through
annotate.queue.sampling.review_model_disagreement_set as the app owning predictions would.

- rank_corr: Spearman correlation between the annotators' gold score and 1 - their true
  error (the share of wrong objects in their real, non-gold work, measured against truth).
- review_yield_ratio: wrong tasks found per review by the weighted sample (review_share 0.2,
  minimum random share 0.2) over the same figure for random review at the same budget (its
  expectation: the share of wrong tasks). A task is wrong when the version a reviewer sees
  (the newest: the consensus of its three annotators) has box F1 < 0.9 against truth.
- consensus_f1: box F1 of the consensus of the three annotators (annotate.quality.consensus)
  against truth, summed over all tasks; with the F1 of single annotators' work beside it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ANNOTATORS = {  # name: (error per object, skips small objects)
    "careful_a": (0.01, False),
    "careful_b": (0.03, False),
    "average_a": (0.06, False),
    "average_b": (0.10, False),
    "careless": (0.25, False),
    "skipper": (0.01, True),
}
MODEL_ERROR = 0.15
SMALL = 24.0
SMALL_SHARE = 0.15
W, H = 640, 480
FRAMES = 10


def _bench_url() -> str:
    from annotate.embedded.postgres import ensure_database_url

    return ensure_database_url().rsplit("/", 1)[0] + "/bench_quality"


def setup_django(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("MEDIA_ROOT", "/tmp/annotate-bench-media")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- synthetic truth and simulated labeling -------------------------------------------------


def image_truth(rng: random.Random) -> list[dict]:
    boxes = []
    for _ in range(rng.randint(2, 6)):
        size = rng.uniform(10, SMALL) if rng.random() < SMALL_SHARE else rng.uniform(40, 140)
        w, h = size, size * rng.uniform(0.7, 1.4)
        x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
        boxes.append({"label": rng.choice(["person", "bicycle"]), "x": x, "y": y, "w": w, "h": h})
    return boxes


def video_truth(rng: random.Random) -> list[dict]:
    """Two tracks: per track a start box and a velocity."""
    tracks = []
    for number in (1, 2):
        w, h = rng.uniform(40, 100), rng.uniform(40, 100)
        tracks.append({
            "number": number, "label": rng.choice(["person", "bicycle"]),
            "x": rng.uniform(0, W - w - 100), "y": rng.uniform(0, H - h - 60),
            "w": w, "h": h, "vx": rng.uniform(-5, 10), "vy": rng.uniform(-3, 6),
        })  # fmt: skip
    return tracks


def _clip(box: dict) -> dict:
    box = dict(box)
    box["w"], box["h"] = min(box["w"], W - 1), min(box["h"], H - 1)
    box["x"] = min(max(box["x"], 0.0), W - box["w"])
    box["y"] = min(max(box["y"], 0.0), H - box["h"])
    return box


def label_image(truth: list[dict], error: float, skips_small: bool, rng: random.Random):
    """(boxes, wrong objects, objects) of one simulated annotator on one image."""
    out, wrong = [], 0
    for box in truth:
        if skips_small and min(box["w"], box["h"]) < SMALL:
            wrong += 1
            continue
        if rng.random() < error:
            wrong += 1
            if rng.random() < 0.5:
                continue  # dropped
            box = {**box, "x": box["x"] + box["w"] * 0.9, "y": box["y"] + box["h"] * 0.7}
        jitter = {k: box[k] + rng.gauss(0, 1.0) for k in ("x", "y")}
        out.append(_clip({**box, **jitter}))
    if rng.random() < error:
        x, y = rng.uniform(0, W - 60), rng.uniform(0, H - 60)
        out.append(_clip({"label": "person", "x": x, "y": y, "w": 50, "h": 50}))
        wrong += 1
    return (
        [{"frame": None, **{k: b[k] for k in ("label", "x", "y", "w", "h")}} for b in out],
        wrong,
        len(truth),
    )


def track_boxes(track: dict, frames: list[int], *, shift: float = 0.0) -> list[dict]:
    return [
        _clip({"frame": frame_id, "label": track["label"], "track": track["number"],
               "x": track["x"] + track["vx"] * i + shift, "y": track["y"] + track["vy"] * i,
               "w": track["w"], "h": track["h"]})
        for i, frame_id in enumerate(frames)
    ]  # fmt: skip


def label_video(tracks: list[dict], frames: list[int], error: float, rng: random.Random):
    boxes, wrong = [], 0
    declared = []
    for track in tracks:
        if rng.random() < error:
            wrong += 1
            if rng.random() < 0.5:
                continue  # the object was missed
            boxes += track_boxes(track, frames, shift=track["w"] * 0.9)
        else:
            boxes += track_boxes(track, frames)
        declared.append({"number": track["number"], "label": track["label"]})
    return {"tracks": declared, "boxes": boxes}, wrong, len(tracks)


# --- the run ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--videos", type=int, default=30)
    parser.add_argument("--gold-images", type=int, default=15)
    parser.add_argument("--gold-videos", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    setup_django(_bench_url())

    import numpy as np
    from django.contrib.auth.models import User
    from django.utils import timezone
    from rest_framework.test import APIClient
    from scipy.stats import spearmanr

    from activelearn.models import LearningSettings
    from annotate.models import (
        Annotation,
        AnnotationTask,
        Asset,
        Budget,
        Frame,
        LabelClass,
        Membership,
        Project,
        QualitySettings,
        ReviewSample,
    )
    from annotate.quality.agreement import agreement
    from annotate.quality.attempts import annotation_shapes
    from annotate.quality.consensus import consensus_form
    from annotate.quality.shapes import BOX, Shape
    from annotate.quality.stats import annotator_stats
    from annotate.queue.gold import task_mark_gold
    from annotate.queue.priorities import priorities_write_bulk
    from annotate.queue.sampling import review_model_disagreement_set
    from annotate.services.annotations import annotation_save

    rng = random.Random(args.seed)
    started = time.perf_counter()
    project = Project.objects.create(name="Quality benchmark", tracks_enabled=True)
    for order, name in enumerate(["person", "bicycle"]):
        LabelClass.objects.create(project=project, name=name, order=order)
    Budget.objects.create(project=project)
    LearningSettings.objects.create(project=project, annotators_per_task=3, audit_share=0.0,
                                    rescore_every_labels=0, retrain_every_accepted=0)  # fmt: skip
    QualitySettings.objects.create(
        project=project, gold_share=0.2, gold_recent_tasks=0, review_share=0.2,
        review_min_random_share=0.2, review_batch_size=10**6, weight_cost=0.0,
    )  # fmt: skip
    manager = User.objects.create(username="manager")
    Membership.objects.create(project=project, user=manager, role=Membership.Role.MANAGER)
    users = {}
    for name in ANNOTATORS:
        users[name] = User.objects.create(username=name)
        Membership.objects.create(project=project, user=users[name], role=Membership.Role.ANNOTATOR)

    truth: dict[int, dict] = {}  # task id -> {"kind", "boxes" | "tracks", "frames"}

    def make_image(priority: float) -> AnnotationTask:
        asset = Asset.objects.create(
            project=project, kind="image", file=f"bench/{rng.random()}.jpg",
            sha256=f"{rng.getrandbits(128):032x}" * 2, content_type="image/jpeg",
            width=W, height=H, state="ready",
        )  # fmt: skip
        task = AnnotationTask.objects.create(project=project, asset=asset, kind="image")
        priorities_write_bulk(project=project, priorities=[(task.pk, priority)])
        truth[task.pk] = {"kind": "image", "boxes": image_truth(rng)}
        return task

    def make_video(priority: float) -> AnnotationTask:
        asset = Asset.objects.create(
            project=project, kind="video", file=f"bench/{rng.random()}.mp4",
            sha256=f"{rng.getrandbits(128):032x}" * 2, content_type="video/mp4",
            width=W, height=H, state="ready", frame_count=FRAMES, fps=10,
        )  # fmt: skip
        frames = Frame.objects.bulk_create(
            Frame(
                asset=asset, index=i, timestamp=i / 10, image=f"bench/f{i}.jpg", width=W, height=H
            )
            for i in range(FRAMES)
        )
        task = AnnotationTask.objects.create(
            project=project, asset=asset, kind="video", frame_start=0, frame_end=FRAMES - 1,
            frame_count=FRAMES,
        )  # fmt: skip
        priorities_write_bulk(project=project, priorities=[(task.pk, priority)])
        truth[task.pk] = {"kind": "video", "tracks": video_truth(rng),
                          "frames": [f.pk for f in frames]}  # fmt: skip
        return task

    def truth_payload(task_id: int) -> dict:
        item = truth[task_id]
        if item["kind"] == "image":
            return {"boxes": [{"frame": None, **b} for b in item["boxes"]]}
        boxes = [b for t in item["tracks"] for b in track_boxes(t, item["frames"])]
        return {"tracks": [{"number": t["number"], "label": t["label"]} for t in item["tracks"]],
                "boxes": boxes}  # fmt: skip

    # Gold: made in the product, a manager's accepted annotation marked gold.
    for i in range(args.gold_images + args.gold_videos):
        task = make_image(-1.0) if i < args.gold_images else make_video(-1.0)
        annotation = annotation_save(
            task=task,
            user=manager,
            payload=truth_payload(task.pk),
            base_version=None,
            kind=Annotation.Kind.SUBMISSION,
        )
        AnnotationTask.objects.filter(pk=task.pk).update(
            state="accepted", annotator=manager, submitted_at=timezone.now(),
            reviewed_at=timezone.now(),
        )  # fmt: skip
        task.refresh_from_db()
        task_mark_gold(task=task, reference=annotation)
    for i in range(args.images + args.videos):
        (make_image if i < args.images else make_video)(float(rng.random()))

    clients = {}
    for name, user in users.items():
        # DEBUG is off, as in production, which redirects plain HTTP to HTTPS.
        clients[name] = APIClient()
        clients[name].force_authenticate(user)
    true_wrong = {name: [0, 0] for name in ANNOTATORS}
    active = list(ANNOTATORS)
    submits = 0
    while active:
        name = rng.choice(active)
        error, skips = ANNOTATORS[name]
        answer = clients[name].post(
            f"/api/projects/{project.pk}/tasks/next/", format="json", secure=True
        )
        assert answer.status_code == 200, (answer.status_code, answer.content)
        task = answer.json()["task"]
        if task is None:
            active.remove(name)
            continue
        row = AnnotationTask.objects.get(pk=task["id"])
        source = row.gold_of_id or row.pk
        item = truth[source]
        if item["kind"] == "image":
            boxes, wrong, objects = label_image(item["boxes"], error, skips, rng)
            payload = {"boxes": boxes}
        else:
            frames = item["frames"]
            payload, wrong, objects = label_video(item["tracks"], frames, error, rng)
        if row.gold_of_id is None:
            true_wrong[name][0] += wrong
            true_wrong[name][1] += objects
        response = clients[name].post(
            f"/api/tasks/{task['id']}/submit/",
            {"base_version": None, "payload": payload}, format="json", secure=True,
        )  # fmt: skip
        assert response.status_code == 200, response.content
        submits += 1
    label_s = time.perf_counter() - started

    # Truth and the model as shapes, per real task.
    def truth_shapes(task_id: int) -> list[Shape]:
        item = truth[task_id]
        if item["kind"] == "image":
            return [Shape(kind=BOX, label=b["label"], box=(b["x"], b["y"], b["w"], b["h"]))
                    for b in item["boxes"]]  # fmt: skip
        return [
            Shape(kind=BOX, label=b["label"], frame=i % FRAMES, track=b["track"],
                  box=(b["x"], b["y"], b["w"], b["h"]))
            for t in item["tracks"] for i, b in enumerate(track_boxes(t, item["frames"]))
        ]  # fmt: skip

    real = list(
        AnnotationTask.objects.filter(
            project=project, is_gold=False, gold_of__isnull=True
        ).select_related("project")
    )
    model_rng = random.Random(args.seed + 100)
    model_disagreement, wrong_task = {}, {}
    consensus_counts, single_counts = np.zeros(3), np.zeros(3)
    for task in real:
        submissions = {}
        for annotation in task.annotations.filter(kind="submission").order_by("version"):
            submissions[annotation.author_id] = annotation
        # What a reviewer sees: the newest version, the consensus of the three.
        latest = task.annotations.exclude(kind="draft").order_by("-version").first()
        shapes = annotation_shapes(latest, task)
        reference = truth_shapes(task.pk)
        f1 = agreement(reference, shapes).boxes
        wrong_task[task.pk] = f1 is not None and f1.f1 < 0.9
        item = truth[task.pk]
        if item["kind"] == "image":
            model_boxes, _, _ = label_image(item["boxes"], MODEL_ERROR, False, model_rng)
            model = [Shape(kind=BOX, label=b["label"], box=(b["x"], b["y"], b["w"], b["h"]))
                     for b in model_boxes]  # fmt: skip
        else:
            payload, _, _ = label_video(item["tracks"], item["frames"], MODEL_ERROR, model_rng)
            model = [Shape(kind=BOX, label=b["label"], frame=i % FRAMES, track=b["track"],
                           box=(b["x"], b["y"], b["w"], b["h"]))
                     for i, b in enumerate(payload["boxes"])]  # fmt: skip
        model_disagreement[task.pk] = 1.0 - agreement(model, shapes).boxes.f1
        per_annotator = [annotation_shapes(a, task) for a in submissions.values()]
        kept = consensus_form(per_annotator).kept()
        ours = agreement(reference, kept).boxes
        consensus_counts += (ours.tp, ours.fp, ours.fn)
        for one in per_annotator:
            theirs = agreement(reference, one).boxes
            single_counts += (theirs.tp, theirs.fp, theirs.fn)
    review_model_disagreement_set(values=model_disagreement)

    manager_client = APIClient()
    manager_client.force_authenticate(manager)
    sample_started = time.perf_counter()
    answer = manager_client.post(f"/api/projects/{project.pk}/quality/review-sample/", secure=True)
    assert answer.status_code == 200, answer.content
    sample_s = time.perf_counter() - sample_started
    picked = list(ReviewSample.objects.filter(task__project=project, picked=True)
                  .values_list("task_id", "reason"))  # fmt: skip
    found = sum(wrong_task[t] for t, _ in picked)
    found_weighted = [wrong_task[t] for t, reason in picked if reason == "weighted"]
    base_rate = sum(wrong_task.values()) / len(wrong_task)
    yield_weighted = found / len(picked)
    ratio = yield_weighted / base_rate if base_rate else float("nan")

    stats = {row.username: row for row in annotator_stats(project_id=project.pk)}
    names = list(ANNOTATORS)
    gold = [stats[n].gold_score for n in names]
    accuracy = [1 - true_wrong[n][0] / max(true_wrong[n][1], 1) for n in names]
    rank_corr = float(spearmanr(gold, accuracy).statistic)

    def f1_of(counts) -> float:
        tp, fp, fn = counts
        return 2 * tp / (2 * tp + fp + fn)

    print(f"tasks={len(real)} gold_tasks={args.gold_images + args.gold_videos} submits={submits} "
          f"label_s={label_s:.1f} review_sample_s={sample_s:.2f}")  # fmt: skip
    for n in names:
        print(f"  {n:10s} true_error={1 - accuracy[names.index(n)]:.3f} "
              f"gold_score={stats[n].gold_score:.3f} gold_attempts={stats[n].gold_attempts} "
              f"flags={stats[n].flags}")  # fmt: skip
    print(f"wrong_tasks={sum(wrong_task.values())} of {len(wrong_task)} (random review yield "
          f"{base_rate:.3f}); reviews={len(picked)} found={found} (weighted part "
          f"{sum(found_weighted)}/{len(found_weighted)}); single_annotator_f1="
          f"{f1_of(single_counts):.3f}")  # fmt: skip
    # The raw limits in the same run: an oracle reviewer who reviews only wrong work (while
    # there is any) at the same budget, and a perfect ranking (rank_corr 1).
    oracle = min(len(picked), sum(wrong_task.values())) / len(picked)
    print(f"oracle_review_yield_ratio={oracle / base_rate:.2f} weighted_yield={yield_weighted:.3f} "
          f"load_average={os.getloadavg()[0]:.1f}")  # fmt: skip
    print(
        f"rank_corr={rank_corr:.3f} review_yield_ratio={ratio:.2f} "
        f"consensus_f1={f1_of(consensus_counts):.3f}"
    )


if __name__ == "__main__":
    main()
