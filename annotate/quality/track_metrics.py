"""Multi-object tracking metrics between two sets of tracks (a truth and a prediction): HOTA
with its detection (DetA) and association (AssA) parts, IDF1, identity switches and MOTA.

- HOTA follows Luiten, Osep, Dendorfer, Torr, Geiger, Leal-Taixe and Leibe, "HOTA: A Higher
  Order Metric for Evaluating Multi-Object Tracking", IJCV 129:548-578 (2021, online 2020),
  doi:10.1007/s11263-020-01375-2. For each localisation threshold alpha = 0.05, 0.10, ...,
  0.95, detections are matched one-to-one per frame by the Hungarian algorithm, maximising
  IoU weighted by how well the two identities align over the whole sequence (the paper's
  eq. 14-15); DetA = |TP| / (|TP| + |FN| + |FP|); AssA is the mean over true positives of
  the association Jaccard |TPA| / (|TPA| + |FNA| + |FPA|) of their two identities;
  HOTA_alpha = sqrt(DetA * AssA), and HOTA, DetA and AssA are means over alpha.
- IDF1 follows Ristani, Solera, Zou, Cucchiara and Tomasi, "Performance Measures and a Data
  Set for Multi-Target, Multi-Camera Tracking", ECCV 2016 workshops: one assignment of truth
  identities to predicted ones for the whole sequence, maximising the frames where the pair
  overlaps at IoU >= the threshold (IDTP); IDF1 = 2 IDTP / (truth + predicted detections).
- Identity switches and MOTA follow Bernardin and Stiefelhagen, "Evaluating Multiple Object
  Tracking Performance: The CLEAR MOT Metrics", EURASIP JIVP 2008: per frame, last frame's
  pairs are kept when they still overlap at the threshold, the rest matched by IoU; a switch
  is a truth track matched to another predicted track than the one it was last matched to;
  MOTA = 1 - (FN + FP + IDSW) / truth detections.

Why this module and not a library (issue 12 asked for TrackEval or py-motmetrics); both were
installed and run here against numpy 2.4.6 and scipy 1.17.1:
- py-motmetrics 1.4.0, PyPI's newest (December 2022): `motmetrics.distances.iou_matrix`
  calls `np.asfarray`, which NumPy 2.0 removed, so box IoU fails with AttributeError; it
  also brings pandas and xmltodict, which nothing else here uses.
- trackeval 1.3.0 (PyPI, March 2026, a maintained packaging of Luiten's TrackEval, the
  paper's reference code): its metric classes run on numpy 2.4, but its declared
  requirements install `opencv-python`, the GUI build of OpenCV that writes the same `cv2`
  package as the `opencv-python-headless` this project pins (and needs libGL), plus
  matplotlib. `pip install -r requirements.txt` would replace the OpenCV that video
  decoding and propagation run on, so it cannot be a requirement.
So the three metrics are written here (numpy, and scipy's linear_sum_assignment, which both
libraries use too), with TrackEval's conventions (its alphas, its tie-breaking epsilons, its
handling of empty sequences) so the numbers agree with it: tests/annotate/
test_track_metrics.py checks ours against values trackeval 1.3.0 gave on fixed fixtures,
and against trackeval itself when it is importable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

# HOTA's localisation thresholds: 0.05, 0.10, ..., 0.95 (the paper's 19 values).
ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = float(np.finfo(float).eps)
# CLEAR MOT prefers keeping last frame's pairs over any gain in IoU (TrackEval's weight).
_CONTINUE_BONUS = 1000.0

TrackRows = np.ndarray | Sequence[Sequence[float]] | Iterable[Sequence[float]]


@dataclass(frozen=True)
class TrackScores:
    """The metrics of one predicted set of tracks against the truth. Fractions in [0, 1]
    except MOTA (at most 1, negative when errors outnumber the truth's detections)."""

    hota: float
    deta: float
    assa: float
    idf1: float
    idsw: int
    mota: float
    idtp: int
    idfp: int
    idfn: int
    truth_detections: int
    predicted_detections: int

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def tracks_array(tracks: TrackRows) -> np.ndarray:
    """[n, 6] float rows (frame, track id, x, y, w, h), boxes in pixels with (x, y) the
    top-left corner, from a list of tuples or an array. Columns after the sixth (a
    confidence) are ignored. Frames and track ids are whole numbers; NaN, infinities,
    negative sizes and a track on one frame twice are refused with ValueError."""
    array = np.asarray(tracks if isinstance(tracks, np.ndarray) else list(tracks), dtype=float)
    if array.size == 0:
        return np.zeros((0, 6))
    if array.ndim != 2 or array.shape[1] < 6:
        raise ValueError(f"tracks must be rows of (frame, track, x, y, w, h); got {array.shape}")
    array = array[:, :6]
    if not np.all(np.isfinite(array)):
        raise ValueError("tracks hold NaN or infinite values")
    if np.any(array[:, :2] != np.round(array[:, :2])):
        raise ValueError("frames and track ids must be whole numbers")
    if np.any(array[:, 4:6] < 0):
        raise ValueError("box widths and heights must be >= 0")
    pairs, counts = np.unique(array[:, :2], axis=0, return_counts=True)
    if np.any(counts > 1):
        frame, track = pairs[np.argmax(counts > 1)]
        raise ValueError(f"track {track:.0f} has more than one box on frame {frame:.0f}")
    return array


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[n, m] IoU of `[n, 4]` and `[m, 4]` boxes (x, y, w, h); 0 where the union is empty."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > _EPS)


@dataclass(frozen=True)
class _Frame:
    truth: np.ndarray  # contiguous truth identities present on the frame
    predicted: np.ndarray  # contiguous predicted identities present on the frame
    iou: np.ndarray  # [len(truth), len(predicted)]


def _rows_by_frame(rows: np.ndarray, frames: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(rows[:, 0], kind="stable")
    sorted_frames = rows[order, 0]
    starts = np.searchsorted(sorted_frames, frames, side="left")
    ends = np.searchsorted(sorted_frames, frames, side="right")
    return [order[start:end] for start, end in zip(starts, ends, strict=True)]


def _sequence(truth: np.ndarray, predicted: np.ndarray) -> tuple[list[_Frame], int, int]:
    """Each frame's identities (renumbered 0..n-1 over the sequence) and their IoU."""
    _, truth_ids = np.unique(truth[:, 1], return_inverse=True)
    _, predicted_ids = np.unique(predicted[:, 1], return_inverse=True)
    frames = np.union1d(truth[:, 0], predicted[:, 0])
    out = []
    for t_rows, p_rows in zip(
        _rows_by_frame(truth, frames), _rows_by_frame(predicted, frames), strict=True
    ):
        out.append(
            _Frame(
                truth=truth_ids[t_rows].astype(np.int64),
                predicted=predicted_ids[p_rows].astype(np.int64),
                iou=box_iou_matrix(truth[t_rows, 2:6], predicted[p_rows, 2:6]),
            )
        )
    return out, int(truth_ids.max(initial=-1)) + 1, int(predicted_ids.max(initial=-1)) + 1


def _hota(frames: list[_Frame], n_truth: int, n_predicted: int) -> tuple[float, float, float]:
    """(HOTA, DetA, AssA), each the mean over ALPHAS."""
    if n_truth == 0 or n_predicted == 0:
        return 0.0, 0.0, 0.0
    # How well each pair of identities aligns over the sequence, before any matching: the
    # IoU of a pair counted in proportion to the other candidates on its frame.
    potential = np.zeros((n_truth, n_predicted))
    truth_count = np.zeros(n_truth)
    predicted_count = np.zeros(n_predicted)
    for frame in frames:
        iou = frame.iou
        denominator = iou.sum(axis=0)[None, :] + iou.sum(axis=1)[:, None] - iou
        share = np.divide(iou, denominator, out=np.zeros_like(iou), where=denominator > _EPS)
        potential[np.ix_(frame.truth, frame.predicted)] += share
        truth_count[frame.truth] += 1
        predicted_count[frame.predicted] += 1
    alignment = potential / (truth_count[:, None] + predicted_count[None, :] - potential)

    n_alpha = len(ALPHAS)
    tp, fn, fp = np.zeros(n_alpha), np.zeros(n_alpha), np.zeros(n_alpha)
    matches = np.zeros((n_alpha, n_truth, n_predicted))
    for frame in frames:
        n_t, n_p = len(frame.truth), len(frame.predicted)
        if n_t == 0 or n_p == 0:
            fp += n_p
            fn += n_t
            continue
        score = alignment[np.ix_(frame.truth, frame.predicted)] * frame.iou
        rows, cols = linear_sum_assignment(-score)
        matched_iou = frame.iou[rows, cols]
        for a, alpha in enumerate(ALPHAS):
            kept = matched_iou >= alpha - _EPS
            count = int(kept.sum())
            tp[a] += count
            fn[a] += n_t - count
            fp[a] += n_p - count
            matches[a, frame.truth[rows[kept]], frame.predicted[cols[kept]]] += 1
    union = truth_count[None, :, None] + predicted_count[None, None, :] - matches
    jaccard = matches / np.maximum(1.0, union)
    assa = (matches * jaccard).sum(axis=(1, 2)) / np.maximum(1.0, tp)
    deta = tp / np.maximum(1.0, tp + fn + fp)
    hota = np.sqrt(deta * assa)
    return float(hota.mean()), float(deta.mean()), float(assa.mean())


def _identity(
    frames: list[_Frame], n_truth: int, n_predicted: int, threshold: float
) -> tuple[int, int, int]:
    """(IDTP, IDFP, IDFN) of the best one-to-one assignment of identities."""
    truth_total = sum(len(frame.truth) for frame in frames)
    predicted_total = sum(len(frame.predicted) for frame in frames)
    if n_truth == 0 or n_predicted == 0:
        return 0, predicted_total, truth_total
    overlapping = np.zeros((n_truth, n_predicted))
    for frame in frames:
        rows, cols = np.nonzero(frame.iou >= threshold)
        overlapping[frame.truth[rows], frame.predicted[cols]] += 1
    rows, cols = linear_sum_assignment(-overlapping)
    idtp = int(overlapping[rows, cols].sum())
    return idtp, predicted_total - idtp, truth_total - idtp


def _clear(frames: list[_Frame], n_truth: int, threshold: float) -> tuple[int, float]:
    """(identity switches, MOTA)."""
    tp = fn = fp = switches = 0
    last_match = np.full(n_truth, -1)  # the predicted identity each was last matched to
    previous = np.full(n_truth, -1)  # matched on the previous frame that had both
    for frame in frames:
        n_t, n_p = len(frame.truth), len(frame.predicted)
        if n_t == 0 or n_p == 0:
            fp += n_p
            fn += n_t
            continue
        continuing = frame.predicted[None, :] == previous[frame.truth][:, None]
        score = _CONTINUE_BONUS * continuing + frame.iou
        score[frame.iou < threshold - _EPS] = 0.0
        rows, cols = linear_sum_assignment(-score)
        kept = score[rows, cols] > _EPS
        truth_ids, predicted_ids = frame.truth[rows[kept]], frame.predicted[cols[kept]]
        before = last_match[truth_ids]
        switches += int(np.sum((before >= 0) & (before != predicted_ids)))
        last_match[truth_ids] = predicted_ids
        previous[:] = -1
        previous[truth_ids] = predicted_ids
        tp += len(truth_ids)
        fn += n_t - len(truth_ids)
        fp += n_p - len(truth_ids)
    return switches, (tp - fp - switches) / max(1, tp + fn)


def track_scores(
    truth: TrackRows, predicted: TrackRows, *, iou_threshold: float = 0.5
) -> TrackScores:
    """HOTA, DetA, AssA, IDF1, identity switches and MOTA of `predicted` against `truth`,
    each rows of (frame, track id, x, y, w, h) (see `tracks_array`). Track ids need not
    agree between the two sets. `iou_threshold` is the overlap at which IDF1 and CLEAR MOT
    count a match; HOTA integrates over its own thresholds (ALPHAS)."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    truth_rows, predicted_rows = tracks_array(truth), tracks_array(predicted)
    frames, n_truth, n_predicted = _sequence(truth_rows, predicted_rows)
    hota, deta, assa = _hota(frames, n_truth, n_predicted)
    idtp, idfp, idfn = _identity(frames, n_truth, n_predicted, iou_threshold)
    switches, mota = _clear(frames, n_truth, iou_threshold)
    return TrackScores(
        hota=hota,
        deta=deta,
        assa=assa,
        idf1=idtp / max(1.0, idtp + 0.5 * idfp + 0.5 * idfn),
        idsw=switches,
        mota=float(mota),
        idtp=idtp,
        idfp=idfp,
        idfn=idfn,
        truth_detections=len(truth_rows),
        predicted_detections=len(predicted_rows),
    )
