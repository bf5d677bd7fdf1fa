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

/** Per track, its box on each frame (null where absent): the box track where it has one.
 * One walk along each track's keyframes, not a search per frame. */
function boxesByTrack(index, frameCount) {
  const byTrack = new Map();
  for (const type of TYPES) {
    for (const keyframes of index.groups.values()) {
      const { track } = keyframes[0];
      if (keyframes[0].type !== type || byTrack.has(track)) continue;
      const boxes = new Array(frameCount).fill(null);
      for (let k = 0; k < keyframes.length; k++) {
        const before = keyframes[k];
        if (before.outside || before.frame >= frameCount) continue;
        const after = keyframes[k + 1];
        const end = Math.min(after ? after.frame : frameCount, frameCount);
        const moves = after && !after.outside;
        for (let f = Math.max(before.frame, 0); f < end; f++) {
          if (type === "kp") {
            boxes[f] = boxOf(shapeAtFrame(keyframes, f).value);
          } else if (!moves || f === before.frame) {
            boxes[f] = { x: before.x, y: before.y, w: before.w, h: before.h };
          } else {
            const t = (f - before.frame) / (after.frame - before.frame);
            boxes[f] = {
              x: before.x + (after.x - before.x) * t,
              y: before.y + (after.y - before.y) * t,
              w: before.w + (after.w - before.w) * t,
              h: before.h + (after.h - before.h) * t,
            };
          }
        }
      }
      byTrack.set(track, boxes);
    }
  }
  return byTrack;
}

/** Pairs of boxes on one frame overlapping by more than `threshold` IoU: [[i, j, iou]].
 * A grid of cells about the size of a box keeps it near linear in the number of boxes. */
export function overlappingPairs(boxes, threshold = IOU_THRESHOLD) {
  if (boxes.length < 2) return [];
  const sizes = boxes.map((b) => Math.max(b.w, b.h)).sort((a, b) => a - b);
  const cell = Math.max(sizes[sizes.length >> 1], 1);
  const grid = new Map();
  boxes.forEach((b, i) => {
    const [c0, c1] = [Math.floor(b.x / cell), Math.floor((b.x + b.w) / cell)];
    const [r0, r1] = [Math.floor(b.y / cell), Math.floor((b.y + b.h) / cell)];
    for (let c = c0; c <= c1; c++) {
      for (let r = r0; r <= r1; r++) {
        const key = c * 1_000_003 + r;
        const list = grid.get(key);
        if (list) list.push(i);
        else grid.set(key, [i]);
      }
    }
  });
  const pairs = [];
  const tested = new Set();
  for (const list of grid.values()) {
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        const [i, j] = list[a] < list[b] ? [list[a], list[b]] : [list[b], list[a]];
        const key = i * boxes.length + j;
        if (tested.has(key)) continue;
        tested.add(key);
        const overlap = iou(boxes[i], boxes[j]);
        if (overlap > threshold) pairs.push([i, j, overlap]);
      }
    }
  }
  return pairs;
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
    const here = [];
    const boxes = [];
    for (const track of tracks) {
      const box = byTrack.get(track)[f];
      if (box) {
        here.push(track);
        boxes.push(box);
      }
    }
    const seen = new Set();
    for (const [i, j, overlap] of overlappingPairs(boxes, threshold)) {
      const [a, b] = [here[i], here[j]];
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
