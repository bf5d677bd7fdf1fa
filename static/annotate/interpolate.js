// Where a track is on a frame, from its keyframes. Pure functions; annotate/track_shapes.py
// is the server's twin (exports), with the same rules, as CVAT has them:
// - before a track's first keyframe it is absent;
// - from a keyframe on it is where that keyframe says, moving linearly towards the next
//   keyframe; before an outside keyframe, and after its last keyframe, it stays put (to the
//   end of the task);
// - an `outside` keyframe means the object is gone from that frame until the next keyframe;
//   its geometry (where the object was last seen) moves nothing.
// The occluded flag and attribute values are the earlier keyframe's (held, not interpolated).

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

/** Index of the last keyframe at or before `frame` (binary search), or -1. */
export function keyframeIndexAt(keyframes, frame) {
  let lo = 0;
  let hi = keyframes.length - 1;
  if (hi < 0 || frame < keyframes[0].frame) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (keyframes[mid].frame <= frame) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function moved(before, after, t, frame) {
  if (before.type === "box") return { ...before, ...interpolateBox(before, after, t), frame, outside: false };
  return { ...before, points: interpolatePoints(before.points, after.points, t), frame, outside: false };
}

/**
 * The shape of a track at `frame`, from its keyframes sorted by frame.
 * Returns {keyframe: shape|null, value: {...geometry}, interpolated: bool, held: bool} or null
 * where the track is absent (before its first keyframe, or from an outside keyframe on until
 * the next keyframe). `held`: not between two keyframes, staying where it was last seen.
 */
export function shapeAtFrame(keyframes, frame) {
  const i = keyframeIndexAt(keyframes, frame);
  if (i < 0) return null;
  const before = keyframes[i];
  if (before.outside) return null;
  if (before.frame === frame) return { keyframe: before, value: before, interpolated: false, held: false };
  const after = keyframes[i + 1];
  if (!after || after.outside) {
    return { keyframe: null, value: moved(before, before, 0, frame), interpolated: true, held: true };
  }
  const t = (frame - before.frame) / (after.frame - before.frame);
  return { keyframe: null, value: moved(before, after, t, frame), interpolated: true, held: false };
}

/** The stretches [first, last] of frames (0..frameCount-1) where the track is present. */
export function presentRanges(keyframes, frameCount) {
  const ranges = [];
  for (let i = 0; i < keyframes.length; i++) {
    const k = keyframes[i];
    if (k.outside || k.frame >= frameCount) continue;
    const end = i + 1 < keyframes.length ? keyframes[i + 1].frame - 1 : frameCount - 1;
    const last = ranges[ranges.length - 1];
    const start = Math.max(k.frame, 0);
    if (last && last[1] === start - 1) last[1] = Math.min(end, frameCount - 1);
    else ranges.push([start, Math.min(end, frameCount - 1)]);
  }
  return ranges;
}
