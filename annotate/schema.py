"""Label schema helpers: keypoint skeleton presets and validation of a project's schema.

Pure Python, no Django models: used by the model's clean(), the admin and the API.
"""

from __future__ import annotations

import math

COCO17_KEYPOINTS = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]
# COCO's person skeleton, by name (COCO itself stores 1-based indices).
COCO17_EDGES = [
    ["left_ankle", "left_knee"],
    ["left_knee", "left_hip"],
    ["right_ankle", "right_knee"],
    ["right_knee", "right_hip"],
    ["left_hip", "right_hip"],
    ["left_shoulder", "left_hip"],
    ["right_shoulder", "right_hip"],
    ["left_shoulder", "right_shoulder"],
    ["left_shoulder", "left_elbow"],
    ["right_shoulder", "right_elbow"],
    ["left_elbow", "left_wrist"],
    ["right_elbow", "right_wrist"],
    ["left_eye", "right_eye"],
    ["nose", "left_eye"],
    ["nose", "right_eye"],
    ["left_eye", "left_ear"],
    ["right_eye", "right_ear"],
    ["left_ear", "left_shoulder"],
    ["right_ear", "right_shoulder"],
]
# COCO's published per-keypoint OKS sigmas (cocoeval's kpt_oks_sigmas), in COCO17_KEYPOINTS order:
# how far annotators themselves disagree on each joint, relative to the person's size.
COCO17_SIGMAS = [
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
]  # fmt: skip
# The sigma of a keypoint no preset knows (near COCO's mean).
DEFAULT_SIGMA = 0.05
UPPER_BODY_KEYPOINTS = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
UPPER_BODY_EDGES = [
    ["left_shoulder", "right_shoulder"],
    ["left_shoulder", "left_hip"],
    ["right_shoulder", "right_hip"],
    ["left_hip", "right_hip"],
]

SKELETON_PRESETS: dict[str, dict] = {
    "coco17": {
        "label": "COCO-17 person",
        "keypoints": COCO17_KEYPOINTS,
        "edges": COCO17_EDGES,
        "sigmas": dict(zip(COCO17_KEYPOINTS, COCO17_SIGMAS, strict=True)),
    },
    "upper_body": {
        "label": "Upper body: shoulders and hips",
        "keypoints": UPPER_BODY_KEYPOINTS,
        "edges": UPPER_BODY_EDGES,
    },
}


def skeleton_preset(name: str) -> dict:
    """A fresh copy of a preset skeleton: {"keypoints": [...], "edges": [[a, b], ...]}, and
    {"sigmas": {name: sigma}} where the preset has published ones (COCO-17)."""
    preset = SKELETON_PRESETS[name]
    skeleton = {
        "keypoints": list(preset["keypoints"]),
        "edges": [list(edge) for edge in preset["edges"]],
    }
    if "sigmas" in preset:
        skeleton["sigmas"] = dict(preset["sigmas"])
    return skeleton


def skeleton_sigmas(skeleton: dict | None) -> list[float]:
    """One OKS sigma per keypoint, in the skeleton's order: the skeleton's own "sigmas" where
    it has them, else COCO's for a COCO-17 name, else DEFAULT_SIGMA."""
    skeleton = skeleton or {}
    own = skeleton.get("sigmas") or {}
    coco = dict(zip(COCO17_KEYPOINTS, COCO17_SIGMAS, strict=True))
    return [
        float(own.get(name, coco.get(name, DEFAULT_SIGMA)))
        for name in skeleton.get("keypoints", [])
    ]


def _sigma_errors(sigmas: object, keypoints: list[str]) -> list[str]:
    if not isinstance(sigmas, dict):
        return ["'sigmas' must be an object {keypoint name: positive number}."]
    errors = [
        f"Sigma of {name!r}: not a keypoint of the skeleton."
        for name in sigmas
        if name not in keypoints
    ]
    for name, value in sigmas.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            errors.append(f"Sigma of {name!r} must be a positive number.")
    missing = [name for name in keypoints if name not in sigmas]
    if missing:
        errors.append(f"'sigmas' needs one per keypoint; missing: {', '.join(missing)}.")
    return errors


def skeleton_errors(skeleton: object) -> list[str]:
    """Human-readable problems with a skeleton; empty when it is valid (or empty)."""
    if skeleton in (None, {}):
        return []
    if not isinstance(skeleton, dict):
        return ["The skeleton must be an object with 'keypoints' and 'edges'."]
    errors: list[str] = []
    keypoints = skeleton.get("keypoints", [])
    edges = skeleton.get("edges", [])
    if not isinstance(keypoints, list) or not all(
        isinstance(k, str) and k.strip() for k in keypoints
    ):
        return ["'keypoints' must be a list of non-empty names."]
    if len(set(keypoints)) != len(keypoints):
        errors.append("Keypoint names must be unique.")
    if not isinstance(edges, list):
        return [*errors, "'edges' must be a list of [name, name] pairs."]
    known = set(keypoints)
    for edge in edges:
        if not (isinstance(edge, list | tuple) and len(edge) == 2):
            errors.append(f"Edge {edge!r} must be a pair of keypoint names.")
            continue
        unknown = [name for name in edge if name not in known]
        if unknown:
            errors.append(f"Edge {edge!r} names unknown keypoints: {', '.join(map(str, unknown))}.")
        elif edge[0] == edge[1]:
            errors.append(f"Edge {edge!r} joins a keypoint to itself.")
    if "sigmas" in skeleton:
        errors.extend(_sigma_errors(skeleton["sigmas"], keypoints))
    extra = set(skeleton) - {"keypoints", "edges", "sigmas"}
    if extra:
        errors.append(f"Unknown skeleton fields: {', '.join(sorted(extra))}.")
    return errors


def keypoint_side(name: str) -> str:
    """'left', 'right' or 'center': the UI colours the two sides apart."""
    lowered = name.lower()
    if lowered.startswith(("left", "l_")):
        return "left"
    if lowered.startswith(("right", "r_")):
        return "right"
    return "center"
