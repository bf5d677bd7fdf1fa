"""Prediction rows in the push format (POST /api/projects/<id>/predictions/) from arrays:
class probabilities per task, boxes with scores, keypoints, embeddings, ready scores.

Arrays are anything with `.tolist()` (numpy, torch on the CPU, jax) or nested lists; numpy
is not needed. Each row names its asset by id (`by="asset"`), external key or original file
name, in the order of `assets`. Rows of one asset from several helpers are joined by
`merge_rows` (e.g. probabilities and an embedding). Nothing is checked here that the server
checks per row (a box outside the image, an unknown class); only shapes that cannot make
rows at all are refused, with a ValueError naming the array.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

AssetKey = Literal["asset", "external_key", "file_name"]
BoxFormat = Literal["xyxy", "xywh", "cxcywh"]
Row = dict[str, Any]


def as_list(array: Any) -> Any:
    """Nested Python lists (and floats) from an array-like."""
    if hasattr(array, "tolist"):
        return array.tolist()
    if isinstance(array, list | tuple):
        return [as_list(item) for item in array]
    return array


def _per_asset(name: str, values: Any, assets: Sequence[Any]) -> list[Any]:
    values = as_list(values)
    if not isinstance(values, list):
        raise ValueError(f"{name} must be an array with one entry per asset")
    if len(values) != len(assets):
        raise ValueError(f"{name} has {len(values)} entries for {len(assets)} assets")
    return values


def _key(by: AssetKey, asset: Any) -> Row:
    if by not in ("asset", "external_key", "file_name"):
        raise ValueError(f"by must be asset, external_key or file_name, not {by!r}")
    if hasattr(asset, "item"):  # a numpy scalar
        asset = asset.item()
    return {by: asset}


def probability_rows(probs: Any, assets: Sequence[Any], *, by: AssetKey = "asset") -> list[Row]:
    """probs [n, classes]: one row per asset, columns in the project's class order
    (Client.class_names)."""
    values = _per_asset("probs", probs, assets)
    return [{**_key(by, a), "probs": list(p)} for a, p in zip(assets, values, strict=True)]


def embedding_rows(embeddings: Any, assets: Sequence[Any], *, by: AssetKey = "asset") -> list[Row]:
    """embeddings [n, dims] (diversity strategies use them)."""
    values = _per_asset("embeddings", embeddings, assets)
    return [{**_key(by, a), "embedding": list(e)} for a, e in zip(assets, values, strict=True)]


def score_rows(scores: Any, assets: Sequence[Any], *, by: AssetKey = "asset") -> list[Row]:
    """scores [n]: a ready informativeness score per asset (higher is labeled first)."""
    values = _per_asset("scores", scores, assets)
    return [{**_key(by, a), "score": s} for a, s in zip(assets, values, strict=True)]


def _xywh(box: list[float], box_format: BoxFormat) -> tuple[float, float, float, float]:
    if len(box) != 4:
        raise ValueError(f"a box has {len(box)} numbers, not 4")
    a, b, c, d = (float(v) for v in box)
    if box_format == "xyxy":
        return a, b, c - a, d - b
    if box_format == "xywh":
        return a, b, c, d
    if box_format == "cxcywh":
        return a - c / 2, b - d / 2, c, d
    raise ValueError(f"box_format must be xyxy, xywh or cxcywh, not {box_format!r}")


def box_rows(
    boxes: Any,
    scores: Any,
    assets: Sequence[Any],
    *,
    labels: Any = None,
    class_probs: Any = None,
    class_names: Sequence[str] | None = None,
    box_format: BoxFormat = "xyxy",
    counts: Any = None,
    min_score: float | None = None,
    by: AssetKey = "asset",
) -> list[Row]:
    """Detections per asset: boxes [n][B, 4] in image pixels, scores [n][B] (0 to 1), and
    per box either labels [n][B] (class names, or indices into class_names) or class_probs
    [n][B, classes]. Per asset the arrays may differ in length (a list of arrays), or be
    padded to one length with counts [n] saying how many are real, or with min_score
    leaving out boxes scoring below it. An asset with no box gets an empty list: the model
    saw nothing there."""
    boxes_ = _per_asset("boxes", boxes, assets)
    scores_ = _per_asset("scores", scores, assets)
    labels_ = _per_asset("labels", labels, assets) if labels is not None else None
    probs_ = _per_asset("class_probs", class_probs, assets) if class_probs is not None else None
    counts_ = _per_asset("counts", counts, assets) if counts is not None else None
    if labels_ is None and probs_ is None:
        raise ValueError("give labels or class_probs for the boxes")
    rows = []
    for i, asset in enumerate(assets):
        count = len(boxes_[i]) if counts_ is None else int(counts_[i])
        if len(scores_[i]) < count:
            raise ValueError(f"asset {i}: {count} boxes but {len(scores_[i])} scores")
        out = []
        for j in range(count):
            score = float(scores_[i][j])
            if min_score is not None and score < min_score:
                continue
            x, y, w, h = _xywh(boxes_[i][j], box_format)
            box: Row = {"x": x, "y": y, "w": w, "h": h, "score": score}
            if labels_ is not None:
                box["label"] = _label(labels_[i][j], class_names)
            if probs_ is not None:
                box["class_probs"] = list(probs_[i][j])
            out.append(box)
        rows.append({**_key(by, asset), "boxes": out})
    return rows


def _label(label: Any, class_names: Sequence[str] | None) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    if isinstance(label, int) and not isinstance(label, bool):
        if class_names is None:
            raise ValueError("labels are class indices: give class_names to name them")
        if not 0 <= label < len(class_names):
            raise ValueError(f"label {label} is not an index into {len(class_names)} class names")
        return class_names[label]
    raise ValueError(f"a label must be a class name or index, not {label!r}")


def keypoint_rows(
    keypoints: Any,
    keypoint_names: Sequence[str],
    assets: Sequence[Any],
    *,
    scores: Any = None,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    counts: Any = None,
    by: AssetKey = "asset",
) -> list[Row]:
    """Poses per asset: keypoints [n][I, K, 3] as (x, y, confidence) in image pixels, or
    [n][I, K, 2] (confidence 1), K in the order of keypoint_names (Project.keypoint_names).
    A point whose x or y is NaN is left out (the model did not place it). scores [n][I]
    per instance, labels [n][I] (default: the project's first class), counts [n] for padded
    arrays."""
    names = list(keypoint_names)
    poses = _per_asset("keypoints", keypoints, assets)
    scores_ = _per_asset("scores", scores, assets) if scores is not None else None
    labels_ = _per_asset("labels", labels, assets) if labels is not None else None
    counts_ = _per_asset("counts", counts, assets) if counts is not None else None
    rows = []
    for i, asset in enumerate(assets):
        count = len(poses[i]) if counts_ is None else int(counts_[i])
        instances = []
        for j in range(count):
            points = poses[i][j]
            if len(points) != len(names):
                raise ValueError(
                    f"asset {i} instance {j}: {len(points)} points for {len(names)} keypoint names"
                )
            placed: dict[str, list[float]] = {}
            for name, point in zip(names, points, strict=True):
                if len(point) not in (2, 3):
                    raise ValueError(f"keypoint {name!r} must be (x, y) or (x, y, confidence)")
                x, y = float(point[0]), float(point[1])
                if math.isnan(x) or math.isnan(y):
                    continue
                placed[name] = [x, y, float(point[2]) if len(point) == 3 else 1.0]
            instance: Row = {"points": placed}
            if scores_ is not None:
                instance["score"] = float(scores_[i][j])
            if labels_ is not None:
                instance["label"] = _label(labels_[i][j], class_names)
            instances.append(instance)
        rows.append({**_key(by, asset), "keypoints": instances})
    return rows


def merge_rows(*row_lists: Iterable[Row]) -> list[Row]:
    """Rows naming the same asset joined into one, in first-seen order; a field given twice
    for one asset is a ValueError."""
    merged: dict[tuple[str, Any], Row] = {}
    for rows in row_lists:
        for row in rows:
            key = next((k, row[k]) for k in ("asset", "external_key", "file_name") if k in row)
            into = merged.setdefault(key, {key[0]: key[1]})
            for field, value in row.items():
                if field == key[0]:
                    continue
                if field in into:
                    raise ValueError(f"{field} is given twice for {key[0]} {key[1]!r}")
                into[field] = value
    return list(merged.values())
