"""A crowd video made on the spot, with its ground truth: textured players moving on a
textured field, crossing and hiding each other, keypoints on them, camera noise.

`render_crowd(seed=0)` returns a CrowdScene: grayscale frames, every player's box and
keypoints on every frame (with whether each point is hidden by a player in front), and the
crossings (two players' boxes overlapping), each named by the frame where they overlap most.
The same seed gives the same video, to the bit. Used by benchmarks/video.py; no Django.

How it is drawn: the field is blurred noise with mowing stripes; each player is an ellipse of
its own blob texture (a different random texture per player, so that optical flow has
something to hold on to, and a crossing swaps one texture for another), scaled with its
height in the picture (players further down are nearer, hence bigger and drawn in front).
Players walk on smooth random paths, and pairs of them are sent to meet at given frames, as
players meet around the ball. Each frame gets Gaussian sensor noise, a slight brightness
flicker and a small camera shake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

# Keypoints of a player in its own frame: (x, y) as fractions of its box, like "head,
# shoulders, hips" of a person seen from the stands.
KEYPOINT_NAMES = ("head", "left_shoulder", "right_shoulder", "left_hip", "right_hip")
KEYPOINT_LAYOUT = np.array(
    [[0.50, 0.14], [0.28, 0.33], [0.72, 0.33], [0.34, 0.64], [0.66, 0.64]], dtype=np.float32
)
# IoU above which two players' boxes count as crossing.
CROSSING_IOU = 0.2


@dataclass
class CrowdScene:
    frames: list[np.ndarray]  # grayscale uint8, H x W each
    boxes: np.ndarray  # (T, N, 4) float: x, y, w, h of each player on each frame
    keypoints: np.ndarray  # (T, N, K, 2) float: x, y
    hidden: np.ndarray  # (T, N, K) bool: the point is covered by a player in front
    crossings: list[tuple[int, int, int]] = field(default_factory=list)  # (frame, a, b)
    keypoint_names: tuple[str, ...] = KEYPOINT_NAMES

    @property
    def crossing_frames(self) -> list[int]:
        return [frame for frame, _, _ in self.crossings]

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.frames[0].shape
        return width, height


def _field(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Grass: fine and coarse noise, mowing stripes, a white line. A little larger than the
    picture so that the camera can shake over it."""
    pad = 16
    h, w = height + 2 * pad, width + 2 * pad
    fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    coarse = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 9)
    stripes = np.sin(np.arange(w, dtype=np.float32) / w * math.pi * 14)[None, :] > 0
    grass = 96 + 16 * fine / fine.std() + 12 * coarse / coarse.std() + 16 * stripes
    cv2.line(grass, (w // 2, 0), (w // 2, h), 215, 3)
    cv2.circle(grass, (w // 2, h // 2), min(w, h) // 5, 215, 3)
    return grass.astype(np.float32)


def _player_texture(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A player's look (blobs of a shirt and shorts in its own shade) and its ellipse mask,
    size x 2*size pixels before scaling."""
    w, h = size, 2 * size
    shade = rng.uniform(40, 210)
    blobs = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.3)
    texture = shade + 55 * blobs / blobs.std()
    texture[int(0.55 * h) :] = 255 - shade * 0.6 + 30 * blobs[int(0.55 * h) :] / blobs.std()
    for _ in range(4):  # a number and a few marks on the shirt
        cx, cy = rng.integers(2, w - 2), rng.integers(int(0.2 * h), int(0.5 * h))
        cv2.circle(
            texture, (int(cx), int(cy)), int(rng.integers(1, 4)), float(rng.uniform(0, 255)), -1
        )
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.8)
    return np.clip(texture, 0, 255).astype(np.float32), mask


def _paths(
    rng: np.random.Generator, players: int, frames: int, width: int, height: int, meetings: int
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Centres (T, N, 2): smooth wandering, plus pairs sent to meet at planned frames."""
    margin = 60
    t = np.arange(frames, dtype=np.float64)[:, None]
    # Start spread out: one player per cell of a grid, at a random place in it.
    columns = math.ceil(math.sqrt(players * width / height))
    rows = math.ceil(players / columns)
    cells = rng.permutation(columns * rows)[:players]
    cell_w, cell_h = (width - 2 * margin) / columns, (height - 2 * margin) / rows
    start = np.stack(
        [
            margin + (cells % columns + rng.uniform(0.25, 0.75, players)) * cell_w,
            margin + (cells // columns + rng.uniform(0.25, 0.75, players)) * cell_h,
        ],
        axis=1,
    )
    paths = np.repeat(start[None], frames, axis=0)
    for axis, extent in ((0, width), (1, height)):
        for _ in range(3):  # sums of slow sines of random periods and phases
            period = rng.uniform(80, 260, players)
            amplitude = rng.uniform(0.015, 0.05, players) * extent
            phase = rng.uniform(0, 2 * math.pi, players)
            paths[:, :, axis] += amplitude * np.sin(2 * math.pi * t / period + phase)
    # Meetings: a pair's paths are bent towards a common point around a planned frame.
    planned = []
    order = rng.permutation(players)
    times = np.linspace(frames * 0.12, frames * 0.9, meetings).astype(int)
    for i, when in enumerate(times):
        a, b = int(order[(2 * i) % players]), int(order[(2 * i + 1) % players])
        where = (paths[when, a] + paths[when, b]) / 2
        offset = rng.normal(0, 6, 2)
        weight = np.exp(-(((t[:, 0] - when) / 22.0) ** 2))[:, None]
        paths[:, a] += weight * (where + offset - paths[when, a])
        paths[:, b] += weight * (where - offset - paths[when, b])
        planned.append((int(when), min(a, b), max(a, b)))
    paths[:, :, 0] = np.clip(paths[:, :, 0], margin, width - margin)
    paths[:, :, 1] = np.clip(paths[:, :, 1], margin, height - margin)
    return paths, planned


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _crossings(boxes: np.ndarray) -> list[tuple[int, int, int]]:
    """Each run of frames where two players' boxes overlap above CROSSING_IOU is one
    crossing, named by the frame of its largest overlap."""
    frames, players = boxes.shape[:2]
    events = []
    for a in range(players):
        for b in range(a + 1, players):
            ious = np.array([_iou(boxes[f, a], boxes[f, b]) for f in range(frames)])
            inside = ious > CROSSING_IOU
            f = 0
            while f < frames:
                if not inside[f]:
                    f += 1
                    continue
                end = f
                while end + 1 < frames and inside[end + 1]:
                    end += 1
                peak = f + int(np.argmax(ious[f : end + 1]))
                events.append((peak, a, b))
                f = end + 1
    return sorted(events)


def render_crowd(
    *,
    seed: int = 0,
    frames: int = 300,
    players: int = 22,
    width: int = 960,
    height: int = 540,
    meetings: int = 10,
    noise: float = 3.0,
) -> CrowdScene:
    """Render the video and its ground truth (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    ground = _field(rng, width, height)
    looks = [_player_texture(rng, 34) for _ in range(players)]
    centres, _planned = _paths(rng, players, frames, width, height, meetings)
    shake = np.cumsum(rng.normal(0, 0.25, (frames, 2)), axis=0)
    shake = np.clip(shake - shake.mean(axis=0), -6, 6)
    flicker = 1.0 + 0.02 * np.sin(np.arange(frames) / 7.0) + rng.normal(0, 0.004, frames)

    boxes = np.zeros((frames, players, 4), np.float64)
    keypoints = np.zeros((frames, players, len(KEYPOINT_NAMES), 2), np.float64)
    hidden = np.zeros((frames, players, len(KEYPOINT_NAMES)), bool)
    out: list[np.ndarray] = []
    pad = 16
    for f in range(frames):
        dx, dy = shake[f]
        # The camera moves by (dx, dy): the field shifts by minus that, subpixel.
        view = cv2.warpAffine(
            ground,
            np.float32([[1, 0, pad + dx], [0, 1, pad + dy]]),
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        )
        # Nearer players (lower in the picture) are bigger and drawn last, in front.
        order = np.argsort(centres[f, :, 1])
        owner = np.full((height, width), -1, np.int32)
        for n in order:
            texture, mask = looks[n]
            scale = 0.75 + 0.5 * centres[f, n, 1] / height
            tw, th = texture.shape[1] * scale, texture.shape[0] * scale
            cx, cy = centres[f, n, 0] - dx, centres[f, n, 1] - dy
            x0, y0 = cx - tw / 2, cy - th / 2
            boxes[f, n] = (x0, y0, tw, th)
            keypoints[f, n] = np.column_stack(
                [x0 + KEYPOINT_LAYOUT[:, 0] * tw, y0 + KEYPOINT_LAYOUT[:, 1] * th]
            )
            # Draw only the region around the player: a warp into a small window.
            left, top = max(int(math.floor(x0)) - 2, 0), max(int(math.floor(y0)) - 2, 0)
            right = min(int(math.ceil(x0 + tw)) + 2, width)
            bottom = min(int(math.ceil(y0 + th)) + 2, height)
            if right <= left or bottom <= top:
                continue
            matrix = np.float32([[scale, 0, x0 - left], [0, scale, y0 - top]])
            size = (right - left, bottom - top)
            patch = cv2.warpAffine(texture, matrix, size, flags=cv2.INTER_LINEAR)
            alpha = cv2.warpAffine(mask, matrix, size, flags=cv2.INTER_LINEAR)
            window = view[top:bottom, left:right]
            window[:] = window * (1 - alpha) + patch * alpha
            owner[top:bottom, left:right][alpha > 0.5] = n
        for n in range(players):
            for k, (px, py) in enumerate(keypoints[f, n]):
                ix, iy = int(round(px)), int(round(py))
                if 0 <= ix < width and 0 <= iy < height:
                    hidden[f, n, k] = owner[iy, ix] not in (-1, n)
        view = view * flicker[f] + rng.normal(0, noise, view.shape)
        out.append(np.clip(view, 0, 255).astype(np.uint8))
    return CrowdScene(
        frames=out, boxes=boxes, keypoints=keypoints, hidden=hidden, crossings=_crossings(boxes)
    )


if __name__ == "__main__":  # a look at it: python benchmarks/crowd_scene.py /tmp/crowd.avi
    import sys

    scene = render_crowd()
    target = sys.argv[1] if len(sys.argv) > 1 else "/tmp/crowd.avi"
    writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"MJPG"), 25, scene.size)
    for frame in scene.frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    print(f"{len(scene.frames)} frames, {len(scene.crossings)} crossings -> {target}")
