"""Carrying boxes and keypoints from frame to frame by pyramidal Lucas-Kanade optical flow,
with a confidence for every carried shape and point. Pure: numpy and OpenCV, no Django.

    tracker = FlowTracker(first_gray, [ShapeStart(key=7, box=(x, y, w, h), points={...})])
    for gray in following_frames:           # each frame decoded once, in order
        steps = tracker.step(gray)          # [ShapeStep] of the shapes still followed
        tracker.drop(key)                   # stop following a shape (a human keyframe ahead)

All points of all shapes move together: ONE calcOpticalFlowPyrLK call per frame pair for every
point (box features and keypoints), and ONE backward call for the forward-backward check.

- A box is followed by up to `features_per_box` corners (goodFeaturesToTrack in the box, a
  little inside its edges so that the background at its corners weighs less), topped up
  when too few survive. Its motion is a robust scale-and-translation fit: the scale is the
  median ratio of the features' pairwise distances after and before, the translation the
  median of what remains (median flow: Kalal, Mikolajczyk and Matas, "Forward-Backward
  Error: Automatic Detection of Tracking Failures", ICPR 2010). Features far from the fitted
  motion (the background, an occluder) are dropped.
- Keypoints are points of their own, followed directly. An occluded point (its image is
  something else) and a point whose flow failed move with their shape instead.
- Confidence is exp(-e / fb_sigma) of the forward-backward error e in pixels (the distance
  between a point and the point tracked forward then back): per keypoint, and per box the
  median over the box's checked features (a point whose flow failed counts as lost, 0).
  The backward call checks every keypoint and, per box, `fb_checks_per_box` of its features,
  a different few each frame: the box's confidence needs a median, not every feature, and
  the backward call is what a forward-backward check costs over plain flow. It starts from
  where each point came from, on the full-resolution image with a small window.
- A point (or a box, by the median of its features) whose patch suddenly matches much worse
  than it used to (the forward call's own error) is lost too: something else stepped in
  front, which a round trip alone can miss when the newcomer moves alike. Median flow checks
  the same with a correlation of patches.
- A shape's confidence is its weakest step since the start: once carried over a bad frame
  it stays doubtful, even where the flow agrees with itself again afterwards.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # x, y, w, h (top-left corner, pixels)
Point = tuple[float, float]


@dataclass(frozen=True)
class FlowSettings:
    """How points are followed. The defaults follow OpenCV's (21x21 window, 3 pyramid levels
    above the image, 30 iterations or 0.01 px) and suit 10-100 px objects."""

    window: int = 21
    levels: int = 3
    iterations: int = 30
    epsilon: float = 0.01
    features_per_box: int = 20
    min_features: int = 8  # fewer alive: the box gets new features
    quality: float = 0.01  # goodFeaturesToTrack's qualityLevel
    min_distance: float = 3.0  # px between a box's features
    inset: float = 0.12  # features come from the box shrunk by this share on each side
    fit_residual: float = 2.0  # px off the fitted motion: the feature is an outlier, dropped
    # px: confidence exp(-fb_error / fb_sigma). On benchmarks/crowd_scene.py, with the
    # project's default threshold 0.5, this keeps 95-97% of the boxes that are right to
    # within 2 px and flags 75-91% of those more than 5 px off (benchmarks/README.md).
    fb_sigma: float = 0.5
    fb_lost: float = 4.0  # px of forward-backward error beyond which a point counts as lost
    fb_checks_per_box: int = 5
    # A patch difference this many times its usual value: something else is there now.
    appearance_ratio: float = 3.0
    residual_floor: float = 2.0  # grey levels: the usual value is at least this
    residual_memory: float = 0.8  # weight of the past in the usual value
    # The backward search starts where the point came from, so it needs neither the
    # pyramid nor the forward window to find its way back within a few pixels; a point whose
    # flow went further astray lands on something else, which the appearance check catches.
    # (Measured on benchmarks/crowd_scene.py: the same separation of good and bad shapes as
    # one pyramid level and a 21 px window, at a quarter of the cost.)
    fb_levels: int = 0
    fb_window: int = 11
    # Start each point's search where its shape's last motion would take it (constant
    # velocity): fast objects stay within the pyramid's reach, and the search converges sooner.
    predict_motion: bool = True

    @property
    def lk_params(self) -> dict:
        """calcOpticalFlowPyrLK's parameters for the forward call."""
        return {
            "winSize": (self.window, self.window),
            "maxLevel": self.levels,
            "criteria": (
                cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS,
                self.iterations,
                self.epsilon,
            ),
        }

    @property
    def fb_lk_params(self) -> dict:
        """... and for the backward one."""
        return {
            **self.lk_params,
            "winSize": (self.fb_window, self.fb_window),
            "maxLevel": min(self.fb_levels, self.levels),
        }


@dataclass(frozen=True)
class ShapeStart:
    """A shape to follow from the first frame: a box, keypoints, or both (one track's box
    and skeleton move as one object). `occluded` names points hidden on the first frame:
    they move with the shape, not by their own flow."""

    key: Hashable
    box: Box | None = None
    points: Mapping[str, Point] = field(default_factory=dict)
    occluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ShapeStep:
    """Where a shape is on the next frame, and how sure the flow is of it (0 to 1).

    Confidences are of the whole way from the first frame: the weakest step so far (a shape
    carried over one bad frame stays doubtful after it). `confidence` is the box's when the
    shape has a box, else the mean of its points'; `step_confidence` is this step's alone.
    A point without flow of its own (occluded, or its flow failed) is placed by its shape's
    motion and is as sure as its shape. `lost`: the box had no feature left to move by."""

    key: Hashable
    box: Box | None
    box_confidence: float | None
    points: dict[str, Point]
    point_confidence: dict[str, float]
    confidence: float
    step_confidence: float
    lost: bool = False


def fb_confidence(error_px: np.ndarray | float, sigma: float) -> np.ndarray:
    """exp(-error / sigma): 1 for a point that came back exactly, 0 where the error is
    infinite (the flow failed)."""
    return np.exp(np.asarray(error_px, dtype=np.float64) / -sigma)


class FlowTracker:
    """Follows shapes jointly, one frame at a time (see the module's docstring).

    Shapes are rows of arrays: boxes (n, 4); each box's features (n, k, 2) with which are
    alive; keypoints (n, p, 2) in each shape's own name order, with which are still followed
    and which by their own flow (not occluded)."""

    def __init__(
        self,
        first: np.ndarray,
        shapes: Sequence[ShapeStart],
        settings: FlowSettings | None = None,
    ) -> None:
        self.settings = cfg = settings or FlowSettings()
        self._forward_params, self._backward_params = cfg.lk_params, cfg.fb_lk_params
        self.previous = _gray(first)
        self.height, self.width = self.previous.shape
        self.steps_done = 0
        self.keys = [s.key for s in shapes]
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("each shape needs its own key")
        self._row = {key: i for i, key in enumerate(self.keys)}
        n = len(shapes)
        self.active = np.ones(n, bool)
        self.has_box = np.array([s.box is not None for s in shapes], bool).reshape(n)
        self.boxes = np.array(
            [s.box if s.box is not None else (0.0, 0.0, 0.0, 0.0) for s in shapes], np.float64
        ).reshape(n, 4)
        self.features = np.zeros((n, cfg.features_per_box, 2), np.float32)
        self.alive = np.zeros((n, cfg.features_per_box), bool)
        self.point_names = [list(s.points) for s in shapes]
        p = max((len(names) for names in self.point_names), default=0)
        self.points = np.zeros((n, p, 2), np.float64)
        self.point_live = np.zeros((n, p), bool)
        self.point_flow = np.zeros((n, p), bool)  # followed by its own flow (not occluded)
        for i, s in enumerate(shapes):
            for j, name in enumerate(self.point_names[i]):
                self.points[i, j] = s.points[name]
                self.point_live[i, j] = True
                self.point_flow[i, j] = name not in s.occluded
        self.velocity = np.zeros((n, 2), np.float64)  # each shape's last motion, px/frame
        # The weakest step so far of each box and point: a shape carried over a bad frame
        # stays doubtful after it, even where the flow then agrees with itself again.
        self.box_chain = np.ones(n)
        # The usual patch difference of each box's features and of each point (NaN: none
        # yet), and which boxes changed looks on the last step.
        self.box_residual = np.full(n, np.nan)
        self.point_residual = np.full((n, p), np.nan)
        self.box_changed = np.zeros(n, bool)
        self.point_chain = np.ones((n, p))
        for i in np.flatnonzero(self.has_box):
            self._refill(i, self.previous)

    # -- public ----------------------------------------------------------------------------

    def drop(self, key: Hashable) -> None:
        """Stop following a shape: its later steps are neither computed nor returned."""
        self.active[self._row[key]] = False

    def drop_point(self, key: Hashable, name: str) -> None:
        """Stop following one keypoint of a shape: it is no longer in the shape's steps."""
        i = self._row[key]
        if name in self.point_names[i]:
            self.point_live[i, self.point_names[i].index(name)] = False

    @property
    def following(self) -> list[Hashable]:
        return [self.keys[i] for i in np.flatnonzero(self.active)]

    def query_points(self) -> np.ndarray:
        """The points the next step asks the flow for, (m, 1, 2) float32: the alive features
        of the followed boxes, then their keypoints that have flow of their own. (To compare
        with plain calcOpticalFlowPyrLK on the same points.)"""
        features, points = self._masks()
        return np.concatenate(
            [self.features[features], self.points[points].astype(np.float32)]
        ).reshape(-1, 1, 2)

    def step(self, frame: np.ndarray) -> list[ShapeStep]:
        """Move every followed shape onto `frame`, the next frame (grayscale or BGR)."""
        cfg = self.settings
        following = _gray(frame)
        feature_mask, point_mask = self._masks()
        feature_rows = np.nonzero(feature_mask)[0]
        point_rows = np.nonzero(point_mask)[0]
        n_features = len(feature_rows)
        before = np.concatenate(
            [self.features[feature_mask], self.points[point_mask].astype(np.float32)]
        ).reshape(-1, 1, 2)
        after = before.copy()
        ok = np.zeros(len(before), bool)
        changed = np.zeros(len(before), bool)
        # Round-trip error per point: NaN where not checked, inf where checked and lost.
        fb_error = np.full(len(before), np.nan)
        if len(before):
            flags, guess = 0, None
            if cfg.predict_motion:
                owners = np.concatenate([feature_rows, point_rows])
                guess = before + self.velocity[owners, None, :].astype(np.float32)
                flags = cv2.OPTFLOW_USE_INITIAL_FLOW
            after, status, residual = cv2.calcOpticalFlowPyrLK(
                self.previous, following, before, guess, flags=flags, **self._forward_params
            )
            ok = (status[:, 0] == 1) & _inside(after[:, 0], self.width, self.height)
            changed = self._appearance_changed(residual[:, 0], ok, feature_mask, point_mask)
            ok[n_features:] &= ~changed[n_features:]
            # The backward check: every keypoint, and a few features of each box.
            probe = np.ones(len(before), bool)
            probe[:n_features] = self._feature_probes(feature_mask)
            fb_error[probe & ~ok] = np.inf
            probe &= ok
            if probe.any():
                back, back_status, _ = cv2.calcOpticalFlowPyrLK(
                    following,
                    self.previous,
                    after[probe],
                    before[probe].copy(),
                    flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                    **self._backward_params,
                )
                error = np.hypot(*(back[:, 0] - before[probe, 0]).T)
                error[back_status[:, 0] != 1] = np.inf
                fb_error[probe] = error
                # A point that does not come back near where it was is lost as well.
                ok[probe] &= error <= cfg.fb_lost
        boxes_before = self.boxes.copy()
        box_step, lost = self._move_boxes(
            before[:n_features, 0],
            after[:n_features, 0],
            ok[:n_features],
            fb_error[:n_features],
            feature_mask,
        )
        box_step[self.box_changed] = 0.0
        point_step = self._move_points(
            after[n_features:, 0], ok[n_features:], fb_error[n_features:], point_mask, boxes_before
        )
        self.previous = following
        self.steps_done += 1
        refill = self.active & self.has_box & (self.alive.sum(axis=1) < cfg.min_features)
        for i in np.flatnonzero(refill):
            self._refill(i, following)
        return self._steps(box_step, point_step, lost)

    # -- inside ----------------------------------------------------------------------------

    def _masks(self) -> tuple[np.ndarray, np.ndarray]:
        features = self.alive & (self.active & self.has_box)[:, None]
        points = self.point_live & self.point_flow & self.active[:, None]
        return features, points

    def _appearance_changed(
        self, residual: np.ndarray, ok: np.ndarray, feature_mask: np.ndarray, point_mask: np.ndarray
    ) -> np.ndarray:
        """Whether what a point (or a box, through the median of its features) matched on
        the next frame looks unlike what it used to match: the flow's patch difference
        (calcOpticalFlowPyrLK's error, the mean absolute difference per pixel) above
        `appearance_ratio` times its usual value. Something else stepped in front, or in
        its place; the round-trip check alone can miss that when the newcomer moves alike.
        (Median flow checks the same with a correlation of patches: Kalal et al., 2010.)
        Sets self.box_changed; returns the changed points (features first, as queried)."""
        cfg = self.settings
        n, k = feature_mask.shape
        residual = np.where(ok, residual, np.nan)
        n_features = int(feature_mask.sum())
        padded = np.full((n, k), np.nan)
        padded[feature_mask] = residual[:n_features]
        box_now = _nanmedian_rows(padded)
        limit = cfg.appearance_ratio * np.maximum(self.box_residual, cfg.residual_floor)
        self.box_changed = box_now > limit  # False while there is no usual value yet
        usual = ~self.box_changed & ~np.isnan(box_now)
        self.box_residual = np.where(
            usual, _blend(self.box_residual, box_now, cfg.residual_memory), self.box_residual
        )
        point_now = residual[n_features:]
        point_usual = self.point_residual[point_mask]
        limit = cfg.appearance_ratio * np.maximum(point_usual, cfg.residual_floor)
        changed_points = point_now > limit
        keep = ~changed_points & ~np.isnan(point_now)
        self.point_residual[point_mask] = np.where(
            keep, _blend(point_usual, point_now, cfg.residual_memory), point_usual
        )
        changed = np.zeros(len(residual), bool)
        changed[n_features:] = changed_points
        return changed

    def _feature_probes(self, feature_mask: np.ndarray) -> np.ndarray:
        """Which of the queried features get the backward check this frame: per box about
        fb_checks_per_box of them, in turns, so that each feature is checked now and then."""
        checks = max(self.settings.fb_checks_per_box, 1)
        rank = np.cumsum(feature_mask, axis=1) - 1
        stride = np.maximum(1, -(-feature_mask.sum(axis=1, keepdims=True) // checks))
        return ((rank + self.steps_done) % stride == 0)[feature_mask]

    def _refill(self, i: int, gray: np.ndarray) -> None:
        """Give box i new features where it has none: corners inside the box (a little in
        from its edges), away from the features it keeps."""
        cfg = self.settings
        x, y, w, h = self.boxes[i]
        left = max(0, math.floor(x + cfg.inset * w))
        top = max(0, math.floor(y + cfg.inset * h))
        right = min(self.width, math.ceil(x + (1 - cfg.inset) * w))
        bottom = min(self.height, math.ceil(y + (1 - cfg.inset) * h))
        free = np.flatnonzero(~self.alive[i])
        if right - left < 3 or bottom - top < 3 or not len(free):
            return
        corners = cv2.goodFeaturesToTrack(
            gray[top:bottom, left:right],
            maxCorners=cfg.features_per_box,
            qualityLevel=cfg.quality,
            minDistance=cfg.min_distance,
            blockSize=3,
        )
        if corners is None:
            return
        corners = corners.reshape(-1, 2) + np.float32([left, top])
        kept = self.features[i][self.alive[i]]
        if len(kept):
            nearest = np.linalg.norm(corners[:, None, :] - kept[None, :, :], axis=2).min(axis=1)
            corners = corners[nearest >= cfg.min_distance]
        slots = free[: len(corners)]
        self.features[i, slots] = corners[: len(slots)]
        self.alive[i, slots] = True

    def _move_boxes(
        self,
        before: np.ndarray,
        after: np.ndarray,
        ok: np.ndarray,
        fb_error: np.ndarray,
        feature_mask: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit each box's scale and shift to its features' motion, robustly, and drop the
        features that do not follow it. Returns this step's confidence per box and which
        boxes were lost (no feature left to move them by)."""
        cfg = self.settings
        n, k = feature_mask.shape
        boxed = self.active & self.has_box
        tracked = feature_mask.copy()
        tracked[feature_mask] = ok
        p0 = np.full((n, k, 2), np.nan)
        p1 = np.full((n, k, 2), np.nan)
        p0[tracked] = before[ok]
        p1[tracked] = after[ok]
        scale, shift, good = _fit_scale_shift(p0, p1)
        # The shift once more without the features far from the first fit (the background
        # at the box's corners, an occluder): the median resists a few, not a majority.
        residual = np.hypot(*np.moveaxis(p1 - (scale[:, None, None] * p0 + shift[:, None]), 2, 0))
        inlier = residual <= cfg.fit_residual  # False where NaN
        refit = inlier.sum(axis=1) >= 2
        outliers = np.where(inlier[:, :, None], 0.0, np.nan)
        _, shift_in, _ = _fit_scale_shift(p0 + outliers, p1 + outliers, scale)
        shift = np.where(refit[:, None], shift_in, shift)
        lost = boxed & ~good

        # Boxes: x' = s x + t, w' = s w; a lost box drifts on at its last speed.
        old = self.boxes
        fitted = np.column_stack(
            [scale * old[:, 0] + shift[:, 0], scale * old[:, 1] + shift[:, 1],
             scale * old[:, 2], scale * old[:, 3]]
        )  # fmt: skip
        drift = old.copy()
        drift[:, :2] += self.velocity
        self.boxes = np.where(boxed[:, None], np.where(good[:, None], fitted, drift), old)
        moved = (self.boxes[:, :2] + self.boxes[:, 2:] / 2) - (old[:, :2] + old[:, 2:] / 2)
        self.velocity = np.where((boxed & good)[:, None], moved, self.velocity)

        # Features: moved; the lost, the outliers and those now outside their box dropped.
        self.features[feature_mask] = after
        fx, fy = self.features[:, :, 0], self.features[:, :, 1]
        x, y, w, h = (self.boxes[:, i, None] for i in range(4))
        inside = (fx >= x) & (fx <= x + w) & (fy >= y) & (fy <= y + h)
        keep = tracked & (inlier | ~refit[:, None]) & inside
        self.alive = np.where(boxed[:, None], keep, self.alive)

        # This step's confidence: from the median round-trip error of the checked features.
        errors = np.full((n, k), np.nan)
        errors[feature_mask] = fb_error
        median = _nanmedian_rows(errors)
        confidence = fb_confidence(np.where(np.isnan(median), np.inf, median), cfg.fb_sigma)
        off_picture = (self.boxes[:, 0] + self.boxes[:, 2] <= 0) | (self.boxes[:, 0] >= self.width)
        off_picture |= (self.boxes[:, 1] + self.boxes[:, 3] <= 0) | (
            self.boxes[:, 1] >= self.height
        )
        confidence[lost | off_picture | ~boxed] = 0.0
        return confidence, lost

    def _move_points(
        self,
        after: np.ndarray,
        ok: np.ndarray,
        fb_error: np.ndarray,
        point_mask: np.ndarray,
        boxes_before: np.ndarray,
    ) -> np.ndarray:
        """Keypoints with flow of their own go where it says. The others (occluded, or their
        flow failed) move with their box, or without a box with the median motion of their
        shape's good points. Returns this step's confidence per point (NaN: no flow of its
        own, so as sure as its shape)."""
        cfg = self.settings
        n, p = self.point_live.shape
        flowed = np.full((n, p, 2), np.nan)
        flowed[point_mask] = np.where(ok[:, None], after, np.nan)
        confidence = np.full((n, p), np.nan)
        confidence[point_mask] = fb_confidence(np.where(ok, fb_error, np.inf), cfg.fb_sigma)

        old = self.points
        boxed = self.has_box & self.active
        # With a box: where the box's change takes the point (scaled about the box's corner).
        safe = np.where(boxes_before[:, 2:] > 0, boxes_before[:, 2:], 1.0)
        ratio = np.where(boxed[:, None], self.boxes[:, 2:] / safe, 1.0)
        by_box = self.boxes[:, None, :2] + (old - boxes_before[:, None, :2]) * ratio[:, None, :]
        carried = by_box
        boxless = ~self.has_box & self.active
        if boxless.any():
            # Without: the median motion of the shape's points that have flow (x and y
            # medians in one call), and that is the shape's speed too.
            motion = (flowed - old).transpose(2, 0, 1).reshape(2 * n, p)
            shape_motion = _nanmedian_rows(motion).reshape(2, n).T
            moved = boxless & ~np.isnan(shape_motion[:, 0])
            self.velocity = np.where(moved[:, None], shape_motion, self.velocity)
            carried = np.where(boxed[:, None, None], by_box, old + self.velocity[:, None, :])
        new = np.where(np.isnan(flowed), carried, flowed)
        followed = self.point_live & self.active[:, None]
        self.points = np.where(followed[:, :, None], new, old)
        return confidence

    def _steps(self, box_step: np.ndarray, point_step: np.ndarray, lost: np.ndarray):
        """The followed shapes' results, with each box's and point's weakest step so far."""
        rows = np.flatnonzero(self.active)
        # A shape without a box: its step is the mean of its own points' steps.
        own = ~np.isnan(point_step) & self.point_live
        with np.errstate(invalid="ignore"):
            skeleton_step = np.where(own, point_step, 0.0).sum(axis=1) / own.sum(axis=1)
        shape_step = np.where(self.has_box, box_step, np.nan_to_num(skeleton_step))
        self.box_chain = np.minimum(self.box_chain, np.where(self.has_box, box_step, 1.0))
        # Points without flow of their own are as sure as their shape.
        point_step = np.where(np.isnan(point_step), shape_step[:, None], point_step)
        self.point_chain = np.minimum(self.point_chain, point_step)
        live_count = np.maximum(self.point_live.sum(axis=1), 1)
        mean_chain = np.where(self.point_live, self.point_chain, 0.0).sum(axis=1) / live_count
        shape_chain = np.where(self.has_box, self.box_chain, mean_chain)

        boxes = self.boxes[rows].tolist()
        box_chain = self.box_chain[rows].tolist()
        points = self.points[rows].tolist()
        point_chain = self.point_chain[rows].tolist()
        live = self.point_live[rows].tolist()
        shape_chain_l = shape_chain[rows].tolist()
        shape_step_l = shape_step[rows].tolist()
        lost_l = lost[rows].tolist()
        has_box = self.has_box[rows].tolist()
        steps = []
        for n, i in enumerate(rows.tolist()):
            names = self.point_names[i]
            kept = [j for j in range(len(names)) if live[n][j]]
            steps.append(
                ShapeStep(
                    key=self.keys[i],
                    box=tuple(boxes[n]) if has_box[n] else None,
                    box_confidence=box_chain[n] if has_box[n] else None,
                    points={names[j]: tuple(points[n][j]) for j in kept},
                    point_confidence={names[j]: point_chain[n][j] for j in kept},
                    confidence=shape_chain_l[n],
                    step_confidence=shape_step_l[n],
                    lost=lost_l[n],
                )
            )
        return steps


def track_shapes(
    frames: Iterable[np.ndarray],
    shapes: Sequence[ShapeStart],
    settings: FlowSettings | None = None,
) -> Iterator[list[ShapeStep]]:
    """Follow `shapes` from the first of `frames` through the others: one list of steps per
    following frame. Each frame is read from the iterator once, when it is needed."""
    iterator = iter(frames)
    try:
        first = next(iterator)
    except StopIteration:
        return
    tracker = FlowTracker(first, shapes, settings)
    for frame in iterator:
        yield tracker.step(frame)


# -- helpers ---------------------------------------------------------------------------------


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return frame


def _blend(usual: np.ndarray, now: np.ndarray, memory: float) -> np.ndarray:
    """A running mean that starts at the first value."""
    return np.where(np.isnan(usual), now, memory * usual + (1 - memory) * now)


def _inside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    return (x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)  # False for NaN


def _nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Median of each row over its non-NaN entries (inf counts as large); NaN for a row with
    none. (np.nanmedian goes through masked arrays: ten times slower on rows this small.)"""
    rows, width = values.shape
    if width == 0:
        return np.full(rows, np.nan)
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = width - np.isnan(values).sum(axis=1)
    index = np.arange(rows)
    low = ordered[index, np.maximum(count - 1, 0) // 2]
    high = ordered[index, count // 2 - (count == 0)]  # the same one for an odd count
    return np.where(count > 0, (low + high) / 2, np.nan)


@functools.cache
def _partners(k: int) -> np.ndarray:
    offsets = [o for o in PAIR_OFFSETS if o < k] or [0]
    return (np.arange(k)[None, :] + np.array(offsets)[:, None]) % k


# Each feature is paired with the features this many places after it (cyclically): 3k pairs
# per box instead of all k(k-1)/2, with much the same median.
PAIR_OFFSETS = (1, 3, 7)


def _fit_scale_shift(
    p0: np.ndarray, p1: np.ndarray, scale: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of (n, k, 2) point pairs (NaN where missing): the scale s (median ratio of
    distances between features after and before) and shift t (median of p1 - s p0) of
    p1 = s p0 + t, and whether the row had a point to fit (one point: a shift, s = 1).
    Given `scale`, only the shift is fitted."""
    n, k = p0.shape[:2]
    valid = ~np.isnan(p0[:, :, 0]) & ~np.isnan(p1[:, :, 0])
    if scale is None:
        partner = _partners(k)  # (m, k)
        d0 = np.sqrt(np.square(p0[:, None, :, :] - p0[:, partner, :]).sum(axis=3))  # (n, m, k)
        d1 = np.sqrt(np.square(p1[:, None, :, :] - p1[:, partner, :]).sum(axis=3))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(d0 > 2.0, d1 / d0, np.nan)
        scale = _nanmedian_rows(ratio.reshape(n, -1))
        # Missing: no change; and one frame never changes an object's size by a quarter.
        scale = np.clip(np.where(np.isnan(scale), 1.0, scale), 0.8, 1.25)
    # The x and y medians in one call: rows x of every box, then y of every box.
    offsets = (p1 - scale[:, None, None] * p0).transpose(2, 0, 1).reshape(2 * n, k)
    shift = _nanmedian_rows(offsets).reshape(2, n).T
    good = valid.any(axis=1)
    return scale, np.where(np.isnan(shift), 0.0, shift), good
