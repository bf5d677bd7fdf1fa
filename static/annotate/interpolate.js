// Linear interpolation of boxes and keypoints between a track's keyframes. Pure functions.

export function lerp(a, b, t) {
  return a + (b - a) * t;
}

export function interpolateBox(a, b, t) {
  return { x: lerp(a.x, b.x, t), y: lerp(a.y, b.y, t), w: lerp(a.w, b.w, t), h: lerp(a.h, b.h, t) };
}

/** Points labeled on both keyframes move linearly; a point labeled on one side only keeps the
 * earlier keyframe's value (so it neither appears from nowhere nor jumps). */
export function interpolatePoints(a, b, t) {
  const out = {};
  for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const pa = a[name];
    const pb = b[name];
    if (pa && pb && pa[2] > 0 && pb[2] > 0) {
      out[name] = [lerp(pa[0], pb[0], t), lerp(pa[1], pb[1], t), pa[2]];
    } else {
      out[name] = pa ? [...pa] : [0, 0, 0];
    }
  }
  return out;
}

/**
 * The shape of a track at `frame`, from its keyframes sorted by frame.
 * Returns {keyframe: shape|null, value: {...geometry}, interpolated: bool} or null when the
 * frame lies outside the track's extent [first keyframe, last keyframe].
 */
export function shapeAtFrame(keyframes, frame) {
  if (!keyframes.length) return null;
  if (frame < keyframes[0].frame || frame > keyframes[keyframes.length - 1].frame) return null;
  let lo = 0;
  let hi = keyframes.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (keyframes[mid].frame <= frame) lo = mid;
    else hi = mid - 1;
  }
  const before = keyframes[lo];
  if (before.frame === frame) return { keyframe: before, value: before, interpolated: false };
  const after = keyframes[lo + 1];
  const t = (frame - before.frame) / (after.frame - before.frame);
  const value =
    before.type === "box"
      ? { ...before, ...interpolateBox(before, after, t), frame }
      : { ...before, points: interpolatePoints(before.points, after.points, t), frame };
  return { keyframe: null, value, interpolated: true };
}
