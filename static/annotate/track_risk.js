// Where identities are likely to have switched in a task's tracks, for the track panel:
// frames where the boxes of two tracks overlap strongly (IoU above a threshold: one may have
// taken the other's identity as they crossed), and tracks that appear or vanish away from the
// image border (an object does not start in the middle of the picture: an identity was
// probably lost there). Pure: no DOM.

import { presentRanges, shapeAtFrame } from "./interpolate.js";
import { TYPES, buildIndex } from "./model.js";

export const IOU_THRESHOLD = 0.3;

/** Intersection over union of two boxes {x, y, w, h}. */
export function iou(a, b) {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/** The box a shape covers: its own, or the bounding box of a skeleton's labeled points. */
export function boxOf(value) {
  if (value.type === "box") return { x: value.x, y: value.y, w: value.w, h: value.h };
  const seen = Object.values(value.points ?? {}).filter((p) => p && p[2] > 0);
  if (!seen.length) return null;
  const xs = seen.map((p) => p[0]);
  const ys = seen.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(Math.max(...xs) - x, 1), h: Math.max(Math.max(...ys) - y, 1) };
}

/** Per track, its box on each frame (null where absent): the box track where it has one. */
function boxesByTrack(index, frameCount) {
  const byTrack = new Map();
  for (const type of TYPES) {
    for (const keyframes of index.groups.values()) {
      const { track } = keyframes[0];
      if (keyframes[0].type !== type || byTrack.has(track)) continue;
      const boxes = new Array(frameCount).fill(null);
      for (const [first, last] of presentRanges(keyframes, frameCount)) {
        for (let f = first; f <= last; f++) {
          const at = shapeAtFrame(keyframes, f);
          if (at) boxes[f] = boxOf(at.value);
        }
      }
      byTrack.set(track, boxes);
    }
  }
  return byTrack;
}

function nearBorder(box, width, height, margin) {
  return (
    box.x <= margin ||
    box.y <= margin ||
    box.x + box.w >= width - margin ||
    box.y + box.h >= height - margin
  );
}

/**
 * Likely identity switches, by frame: [{kind: "overlap", frame (of the strongest overlap),
 * first, last, tracks: [a, b], iou} | {kind: "appears" | "vanishes", frame, tracks: [t]}].
 * Overlapping frames of one pair make one entry. Frames are positions in the task.
 */
export function identityRisks(
  doc,
  { frameCount, width, height, index = buildIndex(doc), threshold = IOU_THRESHOLD, margin = null },
) {
  const border = margin ?? Math.max(4, 0.02 * Math.min(width, height));
  const byTrack = boxesByTrack(index, frameCount);
  const tracks = [...byTrack.keys()].sort((a, b) => a - b);
  const risks = [];
  const open = new Map(); // "a-b" -> overlap entry still going on
  for (let f = 0; f < frameCount; f++) {
    // Sweep along x: only boxes whose x ranges meet are compared.
    const here = [];
    for (const track of tracks) {
      const box = byTrack.get(track)[f];
      if (box) here.push({ track, box });
    }
    here.sort((a, b) => a.box.x - b.box.x);
    const seen = new Set();
    const active = [];
    for (const item of here) {
      for (let i = active.length - 1; i >= 0; i--) {
        if (active[i].box.x + active[i].box.w <= item.box.x) active.splice(i, 1);
      }
      for (const other of active) {
        const overlap = iou(item.box, other.box);
        if (overlap <= threshold) continue;
        const [a, b] = [other.track, item.track].sort((x, y) => x - y);
        const key = `${a}-${b}`;
        seen.add(key);
        const entry = open.get(key);
        if (entry) {
          entry.last = f;
          if (overlap > entry.iou) Object.assign(entry, { iou: overlap, frame: f });
        } else {
          const made = { kind: "overlap", frame: f, first: f, last: f, tracks: [a, b], iou: overlap };
          open.set(key, made);
          risks.push(made);
        }
      }
      active.push(item);
    }
    for (const key of [...open.keys()]) if (!seen.has(key)) open.delete(key);
  }
  for (const track of tracks) {
    const boxes = byTrack.get(track);
    for (let f = 0; f < frameCount; f++) {
      const box = boxes[f];
      if (!box) continue;
      if (f > 0 && !boxes[f - 1] && !nearBorder(box, width, height, border)) {
        risks.push({ kind: "appears", frame: f, tracks: [track] });
      }
      if (f < frameCount - 1 && !boxes[f + 1] && !nearBorder(box, width, height, border)) {
        risks.push({ kind: "vanishes", frame: f, tracks: [track] });
      }
    }
  }
  for (const risk of risks) if (risk.kind === "overlap") risk.iou = Math.round(risk.iou * 100) / 100;
  return risks.sort((a, b) => a.frame - b.frame || a.tracks[0] - b.tracks[0]);
}

/** A line of the panel's list, in words. */
export function describeRisk(risk) {
  const frame = `Frame ${risk.frame + 1}`;
  if (risk.kind === "overlap") {
    const span = risk.first === risk.last ? "" : ` (frames ${risk.first + 1}–${risk.last + 1})`;
    return `${frame}: #${risk.tracks[0]} and #${risk.tracks[1]} overlap, IoU ${risk.iou}${span}`;
  }
  const what = risk.kind === "appears" ? "appears" : "vanishes";
  return `${frame}: #${risk.tracks[0]} ${what} away from the border`;
}
