"""The one check of a pushed prediction row (activelearn.predictions.push), with two entry
points over the same rules and messages:

- `row_data`: one row, what it stores in Prediction.data or RowError saying what is wrong;
- `rows_data`: a batch. The common shapes (class probabilities alone, boxes alone) are
  checked for the whole batch at once with numpy (types, finite numbers, ranges, a box inside
  its image, labels); every row the vectorized check does not accept outright (another shape,
  a value of another type, anything out of range) goes through `row_data`, so an error is
  always row_data's own message and a stored row is always what row_data would store
  (tests/activelearn/test_prediction_rows_batch.py feeds the same rows through both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import is_

import numpy as np

from annotate.image_bounds import EDGE_TOLERANCE_PX, clip_box, clip_point, clipping_rule


class RowError(Exception):
    pass


def class_probs(label: str, score: float, names: list[str]) -> list[float]:
    """A file gives one class and a score per box; scoring wants a distribution over the
    classes. The score goes to the given class and the rest is shared evenly: an assumption,
    the best a single score allows."""
    if len(names) == 1:
        return [1.0]
    rest = (1.0 - score) / (len(names) - 1)
    return [score if name == label else rest for name in names]


# --- checking one row -----------------------------------------------------------------------


def _number(value: object, what: str) -> float:
    kind = type(value)
    if kind is float:  # the common cases first: parsed JSON numbers
        if math.isfinite(value):
            return value
        raise RowError(f"{what} is NaN or infinite")
    if kind is int and -(2**53) <= value <= 2**53:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowError(f"{what} must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise RowError(f"{what} is too large") from None
    if not math.isfinite(number):
        raise RowError(f"{what} is NaN or infinite")
    return number


def _unit_interval(value: object, what: str) -> float:
    if type(value) is float and 0.0 <= value <= 1.0:  # NaN fails the comparison
        return value
    number = _number(value, what)
    if not 0.0 <= number <= 1.0:
        raise RowError(f"{what} must be between 0 and 1")
    return number


def _probs(values: object, classes: list[str], what: str) -> list[float]:
    if not isinstance(values, list):
        raise RowError(f"{what} must be a list of {len(classes)} probabilities")
    if len(values) != len(classes):
        raise RowError(f"{what} has {len(values)} values; the project has {len(classes)} classes")
    return [_unit_interval(v, what) for v in values]


@dataclass
class RowContext:
    classes: list[str]
    keypoints: set[str]


def _box(box: object, n: int, size: tuple[int | None, int | None], ctx: RowContext) -> dict:
    if not isinstance(box, dict):
        raise RowError(f"box {n} must be an object")
    x, y, w, h = (_number(box.get(k), f"box {n} {k}") for k in ("x", "y", "w", "h"))
    if w <= 0 or h <= 0:
        raise RowError(f"box {n} has no area")
    width, height = size
    clipped = clip_box(x, y, w, h, width, height)
    if clipped is None:
        raise RowError(
            f"box {n} lies outside the {width}x{height} image: it {clipping_rule(width, height)}"
        )
    x, y, w, h = clipped
    score = 1.0 if box.get("score") is None else _unit_interval(box["score"], f"box {n} score")
    label = box.get("label")
    if label is not None and label not in ctx.classes:
        raise RowError(f"box {n} has the unknown class {label!r}")
    out = {"x": x, "y": y, "w": w, "h": h, "score": score}
    if box.get("class_probs") is not None:
        out["class_probs"] = _probs(box["class_probs"], ctx.classes, f"box {n} class_probs")
        if label is None:
            out["label"] = ctx.classes[
                max(range(len(ctx.classes)), key=out["class_probs"].__getitem__)
            ]
    elif label is not None:
        out["class_probs"] = class_probs(label, score, ctx.classes)
    else:
        raise RowError(f"box {n} needs a label or class_probs")
    out.setdefault("label", label)
    track = _track(box, f"box {n}")
    if track is not None:
        out["track"] = track
    return out


def _track(shape: dict, what: str) -> int | None:
    track = shape.get("track")
    if track is None:
        return None
    if isinstance(track, bool) or not isinstance(track, int) or not 1 <= track <= 2**31 - 1:
        raise RowError(f"{what} track must be a whole number from 1")
    return track


def _instance(item: object, n: int, size: tuple[int | None, int | None], ctx: RowContext) -> dict:
    if not isinstance(item, dict) or not isinstance(item.get("points"), dict):
        raise RowError(f"keypoint instance {n} needs points {{name: [x, y, confidence]}}")
    points, confidences = {}, {}
    for name, value in item["points"].items():
        if name not in ctx.keypoints:
            raise RowError(f"keypoint instance {n} has the unknown keypoint name {name!r}")
        if isinstance(value, dict) and set(value) == {"x", "y", "confidence"}:
            value = [value["x"], value["y"], value["confidence"]]
        if not isinstance(value, list) or len(value) != 3:
            raise RowError(
                f'keypoint {name!r} must be [x, y, confidence] or {{"x", "y", "confidence"}}'
            )
        px = _number(value[0], f"keypoint {name!r} x")
        py = _number(value[1], f"keypoint {name!r} y")
        confidence = _unit_interval(value[2], f"keypoint {name!r} confidence")
        point = clip_point(px, py, *size)
        if point is None:
            raise RowError(
                f"keypoint {name!r} of instance {n} lies outside the {size[0]}x{size[1]} image: "
                f"it {clipping_rule(*size)}"
            )
        points[name] = [point[0], point[1], confidence]
        confidences[name] = confidence
    score = 1.0 if item.get("score") is None else _unit_interval(item["score"], "score")
    label = item.get("label") or (ctx.classes[0] if ctx.classes else "")
    out = {"label": label, "points": points, "score": score, "confidences": confidences}
    track = _track(item, f"keypoint instance {n}")
    if track is not None:
        out["track"] = track
    return out


def row_data(row: dict, size: tuple[int | None, int | None], ctx: RowContext) -> dict:
    """What a row stores in Prediction.data, or RowError saying what is wrong. A video's
    row ({"frames": [...]}) gives {"frames": [{"index": frame, ...}, ...]}."""
    if "frames" in row:
        frames = row["frames"]
        if not isinstance(frames, list) or not frames:
            raise RowError("frames must be a non-empty list of {frame, boxes, keypoints, ...}")
        units, seen = [], set()
        for n, unit in enumerate(frames):
            if not isinstance(unit, dict):
                raise RowError(f"frames[{n}] must be an object")
            index = unit.get("frame")
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise RowError(f"frames[{n}] needs frame, its index in the video (from 0)")
            if index in seen:
                raise RowError(f"frame {index} is given twice")
            seen.add(index)
            try:
                data = _unit_data({k: v for k, v in unit.items() if k != "frame"}, size, ctx)
            except RowError as error:
                raise RowError(f"frame {index}: {error}") from None
            units.append({"index": index, **data})
        return {"frames": units}
    return _unit_data(row, size, ctx)


def _unit_data(row: dict, size: tuple[int | None, int | None], ctx: RowContext) -> dict:
    data: dict = {}
    if "probs" in row:
        data["probs"] = _probs(row["probs"], ctx.classes, "probs")
    if "boxes" in row:
        if not isinstance(row["boxes"], list):
            raise RowError("boxes must be a list")
        data["boxes"] = [_box(box, n, size, ctx) for n, box in enumerate(row["boxes"])]
    if "keypoints" in row:
        if not isinstance(row["keypoints"], list):
            raise RowError("keypoints must be a list")
        data["keypoints"] = [
            _instance(item, n, size, ctx) for n, item in enumerate(row["keypoints"])
        ]
    if "embedding" in row:
        vector = row["embedding"]
        if not isinstance(vector, list) or not vector:
            raise RowError("embedding must be a non-empty list of numbers")
        data["embedding"] = [_number(v, "embedding") for v in vector]
    if "score" in row:
        data["score"] = _number(row["score"], "score")
    if not data:
        raise RowError("give probs, boxes, keypoints, embedding or score")
    return data


# --- the same check over a batch -----------------------------------------------------------

_CONTENT = frozenset({"probs", "boxes", "keypoints", "embedding", "score", "frames"})
_PROBS_ONLY = frozenset({"probs"})
_BOXES_ONLY = frozenset({"boxes"})
_EXACT_INT = 2**53
_NUMBER_TYPES = frozenset({float, int})  # type(True) is bool, not int


def rows_data(
    rows: list[dict], sizes: list[tuple[int | None, int | None]], ctx: RowContext
) -> list[dict | RowError]:
    """row_data for every row of a batch (its data, or the RowError it raises), the common
    shapes checked all at once (see the module docstring)."""
    out: list[dict | RowError | None] = [None] * len(rows)
    # Each row's shape (its content keys), sorted out in C: map, not a loop per row.
    contents = list(map(_CONTENT.intersection, rows))
    probs = list(compress(range(len(rows)), map(_PROBS_ONLY.__eq__, contents)))
    boxes = list(compress(range(len(rows)), map(_BOXES_ONLY.__eq__, contents)))
    if probs:
        _probs_batch(rows, probs, ctx, out)
    if boxes:
        _boxes_batch(rows, boxes, sizes, ctx, out)
    if None in out:
        for i, data in enumerate(out):
            if data is None:
                try:
                    out[i] = row_data(rows[i], sizes[i], ctx)
                except RowError as error:
                    out[i] = error
    return out


def _floats_mask(values: list) -> np.ndarray:
    """Which values are Python floats (not ints, bools or anything else)."""
    return np.fromiter(map(is_, map(type, values), repeat(float)), bool, len(values))


def _probs_batch(rows: list[dict], indexes: list[int], ctx: RowContext, out: list) -> None:
    """{"probs": [...]} rows whose every value is a float in [0, 1], one per class, as
    _probs keeps them; the others are left to row_data."""
    n = len(ctx.classes)
    lists = [rows[i]["probs"] for i in indexes]
    shaped = [type(v) is list and len(v) == n for v in lists]
    kept = list(compress(indexes, shaped))
    if not kept or n == 0:
        return
    kept_lists = list(compress(lists, shaped))
    flat = list(chain.from_iterable(kept_lists))
    ok = _floats_mask(flat)
    values = _column_array(flat, ok)
    ok &= (values >= 0.0) & (values <= 1.0)  # NaN fails both
    for i, values_, good in zip(kept, kept_lists, ok.reshape(-1, n).all(axis=1), strict=True):
        if good:
            out[i] = {"probs": values_}


def _column_array(values: list, ok: np.ndarray) -> np.ndarray:
    """The values as floats, 0.0 in place of those not `ok` (already refused)."""
    if not ok.all():
        values = [v if k else 0.0 for v, k in zip(values, ok, strict=True)]
    return np.array(values, dtype=float)


def _numbers(values: list) -> tuple[np.ndarray, np.ndarray]:
    """(which values _number takes as they are, the values as floats): floats, and ints below
    2**53 in magnitude (which it turns into the same floats); 0.0 in place of the others."""
    types = list(map(type, values))
    kinds = set(types)
    if kinds <= _NUMBER_TYPES:  # the common column, floats or ints: no mask made per value
        try:
            array = np.array(values, dtype=float)
        except OverflowError:  # an int past the largest float: told below
            pass
        else:
            if int not in kinds:
                return np.ones(len(values), bool), array
            with np.errstate(invalid="ignore"):
                exact = np.abs(array) < _EXACT_INT
            if exact.all():
                return exact, array
    floats = np.fromiter(map(is_, types, repeat(float)), bool, len(values))
    if floats.all():
        return floats, np.array(values, dtype=float)
    ints = np.fromiter(map(is_, types, repeat(int)), bool, len(values))  # bool is not int here
    ok = floats | ints
    try:
        array = _column_array(values, ok)
    except OverflowError:  # an int past the largest float: row_data says so
        ok = floats | np.fromiter(
            (t is int and -_EXACT_INT < v < _EXACT_INT for t, v in zip(types, values, strict=True)),
            bool,
            len(values),
        )
        array = _column_array(values, ok)
    with np.errstate(invalid="ignore"):
        ok &= floats | (np.abs(array) < _EXACT_INT)
    return ok, array


def _boxes_batch(
    rows: list[dict],
    indexes: list[int],
    sizes: list[tuple[int | None, int | None]],
    ctx: RowContext,
    out: list,
) -> None:
    """{"boxes": [...]} rows whose every box passes _box's rules with plain values: numbers
    x, y, w, h (floats, or exact ints), an area, inside the image as clip_box says (and clipped), a
    float score in [0, 1] or none, a known label or none, float class_probs (one per class)
    or none, no track. The others are left to row_data."""
    classes = ctx.classes
    n = len(classes)
    if n == 0:
        return
    lists = [rows[i]["boxes"] for i in indexes]
    shaped = [type(v) is list for v in lists]
    kept = list(compress(indexes, shaped))
    kept_lists = list(compress(lists, shaped))
    counts = [len(v) for v in kept_lists]
    flat = list(chain.from_iterable(kept_lists))
    total = len(flat)
    ok = np.fromiter(map(is_, map(type, flat), repeat(dict)), bool, total)
    boxes = flat if ok.all() else [b if k else {} for b, k in zip(flat, ok, strict=True)]

    def column(key: str) -> list:
        return list(map(dict.get, boxes, repeat(key)))

    numbers = []
    for key in ("x", "y", "w", "h"):
        good, values = _numbers(column(key))
        ok &= good
        numbers.append(values)
    x, y, w, h = numbers
    with np.errstate(invalid="ignore", over="ignore"):
        ok &= np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & np.isfinite(h)
        ok &= (w > 0) & (h > 0)
        owner = np.repeat(np.arange(len(kept)), counts)
        width = np.array([sizes[i][0] or 0 for i in kept], dtype=float)[owner]
        height = np.array([sizes[i][1] or 0 for i in kept], dtype=float)[owner]
        # clip_box over the batch: an unknown side (0 here) is bounded below only.
        right_edge = np.where(width != 0, width, np.inf)
        bottom_edge = np.where(height != 0, height, np.inf)
        tol = EDGE_TOLERANCE_PX
        ok &= ~((x < -tol) | (y < -tol) | (x + w > right_edge + tol) | (y + h > bottom_edge + tol))
        left = np.minimum(np.maximum(x, 0.0), right_edge) + 0.0
        top = np.minimum(np.maximum(y, 0.0), bottom_edge) + 0.0
        right = np.minimum(np.maximum(x + w, 0.0), right_edge) + 0.0
        bottom = np.minimum(np.maximum(y + h, 0.0), bottom_edge) + 0.0
        ok &= (right - left > 0) & (bottom - top > 0)
        x, y, w, h = left, top, right - left, bottom - top
    scores = column("score")
    if set(map(type, scores)) == {float}:  # every box gives a float score
        score = np.array(scores, dtype=float)
        ok &= (score >= 0.0) & (score <= 1.0)
    else:
        given = ~np.fromiter(map(is_, scores, repeat(None)), bool, total)
        good = _floats_mask(scores)
        score = _column_array(scores, good)
        ok &= ~given | (good & (score >= 0.0) & (score <= 1.0))
        score[~given] = 1.0
    known = {*classes, None}  # class names are strings: no other value equals one
    labels = column("label")
    try:
        all_known = known.issuperset(labels)
    except TypeError:  # an unhashable label (a list): refused, by row_data
        all_known = False
    if not all_known:
        try:
            ok &= np.fromiter(map(known.__contains__, labels), bool, total)
        except TypeError:
            ok &= np.fromiter(
                (type(v) in (str, type(None)) and v in known for v in labels), bool, total
            )
    tracks = column("track")
    if tracks.count(None) != total:
        ok &= np.fromiter(map(is_, tracks, repeat(None)), bool, total)
    probs = column("class_probs")
    has_probs = ~np.fromiter(map(is_, probs, repeat(None)), bool, total)
    # A box needs class_probs or a label.
    ok &= has_probs | ~np.fromiter(map(is_, labels, repeat(None)), bool, total)
    shaped = ok & has_probs
    given_probs = list(compress(probs, shaped))
    if set(map(type, given_probs)) != {list} or set(map(len, given_probs)) != {n}:
        shaped[shaped] = [type(v) is list and len(v) == n for v in given_probs]
    ok &= shaped | ~has_probs
    # Per box, the class of its largest probability (-1: no class_probs taken).
    best = np.full(total, -1, dtype=np.intp)
    if shaped.any():
        chosen = np.flatnonzero(shaped)
        flat_probs = list(chain.from_iterable(compress(probs, shaped)))
        if set(map(type, flat_probs)) == {float}:
            good = np.ones(len(flat_probs), bool)
            values = np.array(flat_probs, dtype=float)
        else:
            good = _floats_mask(flat_probs)
            values = _column_array(flat_probs, good)
        good &= (values >= 0.0) & (values <= 1.0)
        ok[chosen] &= good.reshape(-1, n).all(axis=1)
        best[chosen] = values.reshape(-1, n).argmax(axis=1)
    refused = set(owner[~ok].tolist())
    xs, ys, ws, hs, score_list = x.tolist(), y.tolist(), w.tolist(), h.tolist(), score.tolist()
    # As _box fills them: class_probs from the label and score when not given, the label from
    # the largest probability when not given (a refused row's boxes are left as they are).
    if None in probs:
        probs = [
            class_probs(label, s, classes) if p is None and label is not None else p
            for p, label, s in zip(probs, labels, score_list, strict=True)
        ]
    if None in labels:
        best_list = best.tolist()
        if labels.count(None) == total and -1 not in best_list:
            labels = list(map(classes.__getitem__, best_list))
        else:
            labels = [
                classes[b] if label is None and b >= 0 else label
                for label, b in zip(labels, best_list, strict=True)
            ]
    # Every box of the batch in one comprehension over the columns, then cut per row.
    items = [
        {"x": a, "y": b, "w": c, "h": d, "score": e, "class_probs": f, "label": g}
        for a, b, c, d, e, f, g in zip(xs, ys, ws, hs, score_list, probs, labels, strict=True)
    ]
    first = 0
    for position, (i, count) in enumerate(zip(kept, counts, strict=True)):
        if position not in refused:
            out[i] = {"boxes": items[first : first + count]}
        first += count
