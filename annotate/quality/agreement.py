"""How well one annotator's labels of a task agree with another's (or with the consensus, or
a gold answer): box F1 at an IoU threshold, skeleton F1 and OKS with per-joint sigmas, and
HOTA, IDF1 and identity switches of the tracks. Pure; shapes are annotate.quality.shapes.

Shapes are matched frame by frame (annotate.quality.matching) and the counts summed over the
task's frames, so a video segment is scored as a whole. A part neither side has (no boxes,
no skeletons, no tracks) is None.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annotate.quality.matching import BoxF1, KeypointAgreement, box_f1, keypoint_agreement
from annotate.quality.shapes import BOX, KEYPOINTS, Shape, track_rows
from annotate.quality.track_metrics import TrackScores, track_scores


@dataclass(frozen=True)
class Agreement:
    boxes: BoxF1 | None
    keypoints: KeypointAgreement | None
    tracks: TrackScores | None

    def as_dict(self) -> dict:
        return {
            "boxes": None if self.boxes is None else self.boxes.as_dict(),
            "keypoints": None if self.keypoints is None else self.keypoints.as_dict(),
            "tracks": None if self.tracks is None else self.tracks.as_dict(),
        }


def _by_frame(shapes: Sequence[Shape], kind: str) -> dict:
    out: dict = {}
    for shape in shapes:
        if shape.kind == kind:
            out.setdefault(shape.frame, []).append(shape)
    return out


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    if tp + fp + fn == 0:
        return 1.0, 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, 2 * tp / (2 * tp + fp + fn)


def _boxes(truth, predicted, iou_threshold: float) -> BoxF1 | None:
    t, p = _by_frame(truth, BOX), _by_frame(predicted, BOX)
    if not t and not p:
        return None
    tp = fp = fn = 0
    iou_sum = 0.0
    classes: dict[str, list[int]] = {}
    for frame in sorted(set(t) | set(p), key=lambda f: -1 if f is None else f):
        ts, ps = t.get(frame, []), p.get(frame, [])
        scores = box_f1(
            [s.box for s in ts],
            [s.box for s in ps],
            truth_classes=[s.label for s in ts],
            predicted_classes=[s.label for s in ps],
            iou_threshold=iou_threshold,
        )
        tp, fp, fn = tp + scores.tp, fp + scores.fp, fn + scores.fn
        iou_sum += scores.mean_iou * scores.tp
        for name, row in scores.per_class.items():
            counts = classes.setdefault(name, [0, 0, 0])
            counts[0] += int(row["tp"])
            counts[1] += int(row["fp"])
            counts[2] += int(row["fn"])
    per_class = {}
    for name, (ctp, cfp, cfn) in sorted(classes.items()):
        precision, recall, f1 = _f1(ctp, cfp, cfn)
        per_class[name] = {
            "tp": ctp,
            "fp": cfp,
            "fn": cfn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    precision, recall, f1 = _f1(tp, fp, fn)
    return BoxF1(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=precision,
        recall=recall,
        f1=f1,
        mean_iou=iou_sum / tp if tp else 0.0,
        per_class=per_class,
    )


def _keypoints(truth, predicted, sigmas, oks_threshold: float) -> KeypointAgreement | None:
    t, p = _by_frame(truth, KEYPOINTS), _by_frame(predicted, KEYPOINTS)
    if not t and not p:
        return None
    joints = len(sigmas)
    tp = fp = fn = 0
    oks_sum = 0.0
    joint_sum, joint_count = np.zeros(joints), np.zeros(joints, dtype=int)
    empty = np.zeros((0, joints, 3))
    for frame in sorted(set(t) | set(p), key=lambda f: -1 if f is None else f):
        ts, ps = t.get(frame, []), p.get(frame, [])
        scores = keypoint_agreement(
            np.stack([s.points_array() for s in ts]) if ts else empty,
            np.stack([s.points_array() for s in ps]) if ps else empty,
            sigmas=sigmas,
            oks_threshold=oks_threshold,
            truth_classes=[s.label for s in ts],
            predicted_classes=[s.label for s in ps],
        )
        tp, fp, fn = tp + scores.tp, fp + scores.fp, fn + scores.fn
        oks_sum += scores.mean_oks * scores.tp
        for k, (value, count) in enumerate(
            zip(scores.per_joint, scores.per_joint_count, strict=True)
        ):
            if value is not None:
                joint_sum[k] += value * count
                joint_count[k] += count
    return KeypointAgreement(
        tp=tp,
        fp=fp,
        fn=fn,
        f1=_f1(tp, fp, fn)[2],
        mean_oks=oks_sum / tp if tp else 0.0,
        per_joint=[
            float(s / c) if c else None for s, c in zip(joint_sum, joint_count, strict=True)
        ],
        per_joint_count=joint_count.tolist(),
    )


def agreement(
    truth: Sequence[Shape],
    predicted: Sequence[Shape],
    *,
    sigmas: Sequence[float] | np.ndarray = (),
    iou_threshold: float = 0.5,
    oks_threshold: float = 0.5,
) -> Agreement:
    """How `predicted` agrees with `truth` (two annotators' shapes of one task)."""
    sigmas = np.asarray(sigmas, dtype=float)
    truth_tracks, predicted_tracks = track_rows(truth), track_rows(predicted)
    tracks = None
    if len(truth_tracks) or len(predicted_tracks):
        tracks = track_scores(truth_tracks, predicted_tracks, iou_threshold=iou_threshold)
    return Agreement(
        boxes=_boxes(truth, predicted, iou_threshold),
        keypoints=_keypoints(truth, predicted, sigmas, oks_threshold),
        tracks=tracks,
    )


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summary(agreements: Sequence[Agreement]) -> dict[str, float | None]:
    """The headline figures, averaged over several agreements (each pair of annotators of a
    task): box_f1, keypoint_f1, oks, hota, idf1, idsw (None where no agreement has them)."""
    boxes = [a.boxes for a in agreements if a.boxes is not None]
    keypoints = [a.keypoints for a in agreements if a.keypoints is not None]
    tracks = [a.tracks for a in agreements if a.tracks is not None]
    return {
        "box_f1": _mean([b.f1 for b in boxes]),
        "keypoint_f1": _mean([k.f1 for k in keypoints]),
        "oks": _mean([k.mean_oks for k in keypoints if k.tp]),
        "hota": _mean([t.hota for t in tracks]),
        "idf1": _mean([t.idf1 for t in tracks]),
        "idsw": _mean([float(t.idsw) for t in tracks]),
    }


def pairwise(annotators: Sequence[Sequence[Shape]], **options) -> list[tuple[int, int, Agreement]]:
    """(i, j, agreement of j with i as the truth) for every pair i < j of annotators."""
    return [
        (i, j, agreement(annotators[i], annotators[j], **options))
        for i, j in itertools.combinations(range(len(annotators)), 2)
    ]
