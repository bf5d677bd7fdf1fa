"""Small synthetic videos with known motion, for the propagation tests: textured patches
sliding over a textured background (numpy and OpenCV only)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def texture(rng: np.random.Generator, height: int, width: int, *, blur: float = 1.4) -> np.ndarray:
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), blur)
    return np.clip(128 + 60 * noise / noise.std(), 0, 255).astype(np.float32)


@dataclass
class Sprite:
    """A textured rectangle starting at (x, y), moving `velocity` px per frame and growing
    by `growth` (a factor) per frame."""

    x: float
    y: float
    width: int
    height: int
    velocity: tuple[float, float]
    growth: float = 1.0
    seed: int = 1

    def box(self, frame: int) -> tuple[float, float, float, float]:
        scale = self.growth**frame
        w, h = self.width * scale, self.height * scale
        cx = self.x + self.width / 2 + self.velocity[0] * frame
        cy = self.y + self.height / 2 + self.velocity[1] * frame
        return cx - w / 2, cy - h / 2, w, h

    def point(self, frame: int, u: float, v: float) -> tuple[float, float]:
        """Where the point at (u, v) (fractions of the sprite) is on `frame`."""
        x, y, w, h = self.box(frame)
        return x + u * w, y + v * h


def render(
    sprites: list[Sprite],
    frames: int,
    *,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    noise: float = 2.0,
    replaced: dict[int, int] | None = None,
) -> list[np.ndarray]:
    """Grayscale frames; `replaced` {sprite index: frame}: from that frame on the sprite
    shows another texture (what the flow sees when something else steps into the box)."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = texture(rng, height, width, blur=2.0) * 0.6 + 40
    looks = [texture(np.random.default_rng(s.seed), s.height, s.width) for s in sprites]
    others = [texture(np.random.default_rng(1000 + s.seed), s.height, s.width) for s in sprites]
    out = []
    for f in range(frames):
        image = background.copy()
        for i, sprite in enumerate(sprites):
            x, y, w, h = sprite.box(f)
            look = others[i] if replaced and f >= replaced.get(i, frames + 1) else looks[i]
            matrix = np.float32([[w / sprite.width, 0, x], [0, h / sprite.height, y]])
            patch = cv2.warpAffine(look, matrix, size, flags=cv2.INTER_LINEAR)
            mask = cv2.warpAffine(np.ones_like(look), matrix, size, flags=cv2.INTER_LINEAR)
            image = image * (1 - mask) + patch * mask
        image += rng.normal(0, noise, image.shape)
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return out
