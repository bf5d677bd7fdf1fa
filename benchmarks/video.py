"""Video benchmark: `python benchmarks/video.py`.

On a crowd video rendered for the run (benchmarks/crowd_scene.py: 22 textured players on a
textured field, crossing and hiding each other, keypoints on them, camera noise and shake;
deterministic for BENCH_SEED), measures:

- prop_err_px_10, prop_err_px_30: the median error in pixels of propagated boxes and
  keypoints 10 and 30 frames after the frame they were carried from (a box's error is the
  mean distance of its top-left and bottom-right corners to the truth; a keypoint's its
  distance, for points visible at both ends). Propagation starts from the true shapes every
  BENCH_START_EVERY frames, all 22 players together, and never stops (threshold 0), so the
  figure is the flow's and not the threshold's. Goal: prop_err_px_10 <= 3.
- flow_ratio: the speed of propagating 22 players over 250 frames (annotate.propagation.flow,
  everything it does per frame: one forward and one backward calcOpticalFlowPyrLK call, the
  robust box fits, features topped up, the results built) over the speed of plain
  calcOpticalFlowPyrLK chained over the same frames and the same points with the same
  parameters, in the same run: each side's fastest of BENCH_ROUNDS interleaved rounds, on
  decoded frames, with OpenCV on BENCH_THREADS threads, by the process's CPU time (1 thread
  by default: the figure is then the code's, not the scheduler's, on a shared machine; the
  wall-clock ratio is printed beside it). Goal: >= 0.8.
- Also printed: box and keypoint errors apart, their 90th percentiles, how well the
  confidence separates good shapes from bad ones, and plain LK with its own backward check
  (two calls per frame) for comparison.

Also: risk_precision (the track-risk strategy's reasons on the true tracks: the share
of its k highest-ranked reasons that name a true crossing, pair and frames, k = the
crossings; also printed on the tracks propagation carries, as a model's would be), idsw /
hota / idf1
(annotate/quality/track_metrics.py on the tracks propagation carries from frame 0 alone,
against the truth), frame_change_2000_ms (benchmarks/ui.py, the real page with 2,000 shapes),
and on that page drag_fps_2000 and drag_frame_ms (its JavaScript per frame of the drag).
Last line: `prop_err_px_10=... prop_err_px_30=... risk_precision=... idsw=... hota=...
idf1=... flow_ratio=... frame_change_2000_ms=... drag_fps_2000=... drag_frame_ms=...`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from crowd_scene import CrowdScene, render_crowd  # noqa: E402
from ui import measure_frame_change_2000  # noqa: E402

from activelearn.strategies.tracks import track_risk_report  # noqa: E402
from annotate.propagation.flow import FlowSettings, FlowTracker, ShapeStart  # noqa: E402
from annotate.quality.track_metrics import track_scores  # noqa: E402

SEED = int(os.environ.get("BENCH_SEED", 0))
FRAMES = int(os.environ.get("BENCH_FRAMES", 300))
SPEED_FRAMES = 250
START_EVERY = int(os.environ.get("BENCH_START_EVERY", 15))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
THREADS = int(os.environ.get("BENCH_THREADS", 1))
KEYS = (
    "prop_err_px_10",
    "prop_err_px_30",
    "risk_precision",
    "idsw",
    "hota",
    "idf1",
    "flow_ratio",
    "frame_change_2000_ms",
    "drag_fps_2000",
    "drag_frame_ms",
)


def starts_at(scene: CrowdScene, frame: int) -> list[ShapeStart]:
    """Every player's true box and keypoints on `frame` (hidden points as occluded)."""
    names = scene.keypoint_names
    return [
        ShapeStart(
            key=n,
            box=tuple(float(v) for v in scene.boxes[frame, n]),
            points={
                name: tuple(map(float, scene.keypoints[frame, n, k]))
                for k, name in enumerate(names)
            },
            occluded=frozenset(name for k, name in enumerate(names) if scene.hidden[frame, n, k]),
        )
        for n in range(scene.boxes.shape[1])
    ]


def corner_error(box, truth) -> float:
    x, y, w, h = box
    tx, ty, tw, th = truth
    return (math.dist((x, y), (tx, ty)) + math.dist((x + w, y + h), (tx + tw, ty + th))) / 2


def accuracy(scene: CrowdScene, settings: FlowSettings) -> dict:
    """Errors and confidences after 10 and 30 frames, from starts every START_EVERY frames."""
    out: dict[int, dict[str, list[float]]] = {
        h: {"box": [], "kp": [], "box_conf": [], "kp_conf": []} for h in (10, 30)
    }
    names = scene.keypoint_names
    for start in range(0, len(scene.frames) - 30, START_EVERY):
        tracker = FlowTracker(scene.frames[start], starts_at(scene, start), settings)
        for ahead in range(1, 31):
            frame = start + ahead
            steps = tracker.step(scene.frames[frame])
            if ahead not in out:
                continue
            bucket = out[ahead]
            for step in steps:
                n = step.key
                bucket["box"].append(corner_error(step.box, scene.boxes[frame, n]))
                bucket["box_conf"].append(step.box_confidence)
                for k, name in enumerate(names):
                    if scene.hidden[start, n, k] or scene.hidden[frame, n, k]:
                        continue
                    bucket["kp"].append(math.dist(step.points[name], scene.keypoints[frame, n, k]))
                    bucket["kp_conf"].append(step.point_confidence[name])
    return out


def separation(errors: list[float], confidences: list[float], threshold: float = 0.5) -> str:
    """How the confidence sorts shapes: kept (>= threshold) among good ones (< 2 px off)
    and among bad ones (> 5 px off)."""
    e, c = np.array(errors), np.array(confidences)
    good, bad = e < 2, e > 5
    kept_good = (c[good] >= threshold).mean() if good.any() else float("nan")
    kept_bad = (c[bad] >= threshold).mean() if bad.any() else float("nan")
    return (
        f"confidence >= {threshold}: {kept_good:.0%} of {good.sum()} shapes < 2 px off, "
        f"{kept_bad:.0%} of {bad.sum()} shapes > 5 px off"
    )


def speed(scene: CrowdScene, settings: FlowSettings) -> tuple[dict, dict, dict, int]:
    """CPU and wall seconds for propagation, plain LK and plain LK with a backward call,
    each the fastest of ROUNDS interleaved rounds over SPEED_FRAMES frames; and the number
    of points."""
    frames = scene.frames[: SPEED_FRAMES + 1]
    starts = starts_at(scene, 0)
    points = FlowTracker(frames[0], starts, settings).query_points()
    params = settings.lk_params

    def propagate():
        tracker = FlowTracker(frames[0], starts, settings)  # features found before timing
        yield
        for frame in frames[1:]:
            tracker.step(frame)

    def plain():
        yield
        p = points
        for a, b in zip(frames, frames[1:], strict=False):
            p, _, _ = cv2.calcOpticalFlowPyrLK(a, b, p, None, **params)

    def plain_with_backward():
        yield
        p = points
        for a, b in zip(frames, frames[1:], strict=False):
            q, _, _ = cv2.calcOpticalFlowPyrLK(a, b, p, None, **params)
            cv2.calcOpticalFlowPyrLK(b, a, q, None, **params)
            p = q

    def timed(run) -> tuple[float, float]:
        steps = run()
        next(steps)  # setup, untimed
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in steps:
            pass
        return time.process_time() - cpu, time.perf_counter() - wall

    best = [{"cpu": math.inf, "wall": math.inf} for _ in range(3)]
    for _ in range(ROUNDS):
        for i, run in enumerate((propagate, plain, plain_with_backward)):
            cpu, wall = timed(run)
            best[i] = {"cpu": min(best[i]["cpu"], cpu), "wall": min(best[i]["wall"], wall)}
    return best[0], best[1], best[2], len(points)


def propagated_tracks(scene: CrowdScene, settings: FlowSettings) -> list[list[tuple[int, tuple]]]:
    """All players carried from the first frame to the last (never stopped): per frame, the
    (track, box) pairs. For the track metrics (SLOT below)."""
    tracker = FlowTracker(scene.frames[0], starts_at(scene, 0), settings)
    out = [[(s.key, s.box) for s in starts_at(scene, 0)]]
    for frame in scene.frames[1:]:
        out.append([(step.key, step.box) for step in tracker.step(frame) if not step.lost])
    return out


# --- risk ranking, track metrics and the page with 2,000 shapes -----------------------------


def risk_precision(scene: CrowdScene, tracks: list[list[tuple[int, tuple]]] | None = None) -> float:
    """Precision@k of the product's track-risk ranking (activelearn.strategies.tracks, the
    reasons the queue page shows: "collision of #3 and #7 at frames 41-47") over the
    scene's true tracks, with k the number of true crossings: the share of the k
    highest-ranked reasons that name a true crossing, i.e. the same two players and a frame
    range holding the frame where they overlap most (each crossing found once)."""
    if tracks is None:
        tracks = [[(n, tuple(scene.boxes[t, n])) for n in range(scene.boxes.shape[1])]
                  for t in range(scene.boxes.shape[0])]  # fmt: skip
    rows = [(t, n + 1, *box, 1.0) for t, shapes in enumerate(tracks) for n, box in shapes if box]
    k = len(scene.crossings)
    report = track_risk_report(
        np.asarray(rows, dtype=np.float64),
        frame_ranges=np.array([[0, len(scene.frames) - 1]]),
        image_sizes=np.array([scene.size], dtype=np.float64),
        max_reasons=k,
    )
    unfound = {(frame, a + 1, b + 1) for frame, a, b in scene.crossings}
    hits = 0
    for reason in report.reasons[0][:k]:
        first, last = reason["frames"]
        pair = sorted(reason["tracks"])
        match = next(
            (c for c in sorted(unfound) if [c[1], c[2]] == pair and first <= c[0] <= last), None
        )
        if match is not None:
            unfound.discard(match)
            hits += 1
    return round(hits / k, 3) if k else 0.0


def track_metrics(scene: CrowdScene, settings: FlowSettings) -> dict[str, float]:
    """HOTA, IDF1 and identity switches (annotate.quality.track_metrics) of the tracks
    propagation carries from the first frame alone, against the true tracks."""
    truth = [
        (t, n, *scene.boxes[t, n])
        for t in range(scene.boxes.shape[0])
        for n in range(scene.boxes.shape[1])
    ]
    predicted = [
        (t, key, *box)
        for t, shapes in enumerate(propagated_tracks(scene, settings))
        for key, box in shapes
        if box is not None
    ]
    scores = track_scores(truth, predicted)
    return {
        "idsw": int(scores.idsw),
        "hota": round(float(scores.hota), 3),
        "idf1": round(float(scores.idf1), 3),
    }


def page_2000() -> dict[str, float]:
    """benchmarks/ui.py's figures with 2,000 tracked shapes on a frame, in the real page
    (its own database and server); none, with the reason, when chromium is missing."""
    try:
        figures = measure_frame_change_2000()
    except FileNotFoundError as error:
        print(f"frame_change_2000_ms skipped: {error}")
        return {}
    print(f"page with 2,000 shapes: {figures}")
    return {
        "frame_change_2000_ms": round(float(figures["frame_change_2000_ms"]), 1),
        "drag_fps_2000": round(float(figures["drag_fps_2000"]), 1),
        "drag_frame_ms": round(float(figures["drag_frame_2000_ms"]), 2),
    }


def main() -> None:
    cv2.setNumThreads(THREADS)
    load = os.getloadavg()
    began = time.perf_counter()
    scene = render_crowd(seed=SEED, frames=max(FRAMES, SPEED_FRAMES + 1))
    print(
        f"crowd scene: {len(scene.frames)} frames {scene.size[0]}x{scene.size[1]}, "
        f"{scene.boxes.shape[1]} players, {len(scene.crossings)} crossings "
        f"(rendered in {time.perf_counter() - began:.1f} s); load average {load[0]:.2f}"
    )
    settings = FlowSettings()
    figures: dict[str, float | None] = dict.fromkeys(KEYS)

    errors = accuracy(scene, settings)
    print("\nafter  | boxes median (p90) px | keypoints median (p90) px | all median px")
    for ahead in (10, 30):
        e = errors[ahead]
        both = np.median(e["box"] + e["kp"])
        figures[f"prop_err_px_{ahead}"] = round(float(both), 2)
        print(
            f"{ahead:>2} fr  | {np.median(e['box']):8.2f} ({np.percentile(e['box'], 90):6.2f})"
            f"       | {np.median(e['kp']):8.2f} ({np.percentile(e['kp'], 90):6.2f})"
            f"           | {both:.2f}"
        )
        print(f"        boxes: {separation(e['box'], e['box_conf'])}")
        print(f"        keypoints: {separation(e['kp'], e['kp_conf'])}")

    propagated, plain, plain_fb, points = speed(scene, settings)
    per_frame = 1000 / SPEED_FRAMES
    figures["flow_ratio"] = round(plain["cpu"] / propagated["cpu"], 3)
    print(
        f"\nspeed, {points} points of 22 players over {SPEED_FRAMES} frames, {THREADS} "
        f"thread(s), fastest of {ROUNDS}, CPU ms per frame (wall):"
    )
    for name, took in (
        ("propagation", propagated),
        ("plain calcOpticalFlowPyrLK", plain),
        ("plain LK + backward call", plain_fb),
    ):
        ratio = ""
        if took is not propagated:
            cpu_ratio = took["cpu"] / propagated["cpu"]
            ratio = f"  ratio {cpu_ratio:.3f} ({took['wall'] / propagated['wall']:.3f})"
        print(
            f"  {name:<27} {took['cpu'] * per_frame:6.2f} ({took['wall'] * per_frame:6.2f}){ratio}"
        )

    figures["risk_precision"] = risk_precision(scene)
    carried = risk_precision(scene, propagated_tracks(scene, settings))
    print(f"risk precision@{len(scene.crossings)}: true tracks {figures['risk_precision']}, "
          f"propagated tracks {carried}")  # fmt: skip
    figures.update(track_metrics(scene, settings))
    figures.update(page_2000())
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    print(" ".join(f"{k}={v}" for k, v in figures.items() if v is not None))


if __name__ == "__main__":
    main()
