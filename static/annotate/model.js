// The document being labeled: tracks and shapes, kept as keyframes, with the operations the
// tools need (split, merge, copy to next frame) and conversion to and from the API payload.
// Pure data, no DOM.
//
// doc = {nextId, tracks: {number: {number, label}}, shapes: [shape]}
// shape = {id, type: "box"|"kp", frame: position in the task (0..n-1), label, track: number|null,
//          source, confidence, x, y, w, h  |  points: {name: [x, y, v]}}
// A tracked shape in `shapes` is a keyframe; frames between keyframes are interpolated.

import { shapeAtFrame } from "./interpolate.js";

export function emptyDoc() {
  return { nextId: 1, tracks: {}, shapes: [] };
}

export function cloneDoc(doc) {
  return structuredClone(doc);
}

function groupKey(type, track) {
  return `${type}:${track}`;
}

/** Keyframes of every (type, track), sorted by frame. */
export function trackGroups(doc) {
  const groups = new Map();
  for (const shape of doc.shapes) {
    if (shape.track == null) continue;
    const key = groupKey(shape.type, shape.track);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(shape);
  }
  for (const list of groups.values()) list.sort((a, b) => a.frame - b.frame);
  return groups;
}

/**
 * What is on `frame`: [{key, type, track, label, interpolated, value, keyframe}] where `value`
 * holds the geometry (the stored shape itself for a keyframe or an untracked shape).
 */
export function shapesAt(doc, frame, groups = trackGroups(doc)) {
  const items = [];
  for (const shape of doc.shapes) {
    if (shape.track == null && shape.frame === frame) {
      items.push({
        key: `s${shape.id}`,
        type: shape.type,
        track: null,
        label: shape.label,
        interpolated: false,
        value: shape,
        keyframe: shape,
      });
    }
  }
  for (const [key, keyframes] of groups) {
    const at = shapeAtFrame(keyframes, frame);
    if (!at) continue;
    const first = keyframes[0];
    const label = doc.tracks[first.track]?.label ?? first.label;
    items.push({
      key: at.keyframe ? `s${at.keyframe.id}` : `${key}@${frame}`,
      type: first.type,
      track: first.track,
      label,
      interpolated: at.interpolated,
      value: at.value,
      keyframe: at.keyframe,
    });
  }
  return items;
}

export function nextTrackNumber(doc) {
  const numbers = Object.keys(doc.tracks).map(Number);
  return numbers.length ? Math.max(...numbers) + 1 : 1;
}

export function addShape(doc, fields) {
  const shape = { source: "human", confidence: null, track: null, ...fields, id: doc.nextId++ };
  doc.shapes.push(shape);
  return shape;
}

export function findShape(doc, id) {
  return doc.shapes.find((s) => s.id === id) ?? null;
}

export function removeShape(doc, id) {
  const shape = findShape(doc, id);
  doc.shapes = doc.shapes.filter((s) => s.id !== id);
  if (shape && shape.track != null && !doc.shapes.some((s) => s.track === shape.track)) {
    delete doc.tracks[shape.track];
  }
}

/** Make an interpolated item a keyframe of its track on its frame; returns the stored shape. */
export function materialize(doc, item) {
  if (item.keyframe) return item.keyframe;
  const { id, ...geometry } = structuredClone(item.value);
  const shape = addShape(doc, { ...geometry, label: item.label, track: item.track });
  item.keyframe = shape;
  item.value = shape;
  item.interpolated = false;
  item.key = `s${shape.id}`;
  return shape;
}

export function newTrack(doc, label) {
  const number = nextTrackNumber(doc);
  doc.tracks[number] = { number, label };
  return number;
}

export function deleteTrack(doc, number) {
  doc.shapes = doc.shapes.filter((s) => s.track !== number);
  delete doc.tracks[number];
}

/** The class of a tracked shape is its track's class: change all of them together. */
export function setLabel(doc, item, label) {
  if (item.track != null) {
    if (doc.tracks[item.track]) doc.tracks[item.track].label = label;
    for (const shape of doc.shapes) if (shape.track === item.track) shape.label = label;
  } else if (item.keyframe) {
    item.keyframe.label = label;
  }
}

/** Split a track at `frame`: from there on its shapes belong to a new track. */
export function splitTrack(doc, number, frame) {
  const groups = trackGroups(doc);
  for (const type of ["box", "kp"]) {
    const keyframes = groups.get(groupKey(type, number));
    if (!keyframes) continue;
    for (const f of [frame - 1, frame]) {
      const at = shapeAtFrame(keyframes, f);
      if (at && at.interpolated) {
        const { id, ...geometry } = structuredClone(at.value);
        addShape(doc, { ...geometry, frame: f, track: number });
      }
    }
  }
  const moving = doc.shapes.filter((s) => s.track === number && s.frame >= frame);
  const staying = doc.shapes.filter((s) => s.track === number && s.frame < frame);
  if (!moving.length || !staying.length) return null;
  const label = doc.tracks[number]?.label ?? moving[0].label;
  const created = newTrack(doc, label);
  for (const shape of moving) shape.track = created;
  return created;
}

/** Merge tracks into the lowest number; where two have a shape on one frame, the target's stays. */
export function mergeTracks(doc, numbers) {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  if (sorted.length < 2) return null;
  const [target, ...others] = sorted;
  const label = doc.tracks[target]?.label;
  const taken = new Set(
    doc.shapes.filter((s) => s.track === target).map((s) => `${s.type}@${s.frame}`),
  );
  const kept = [];
  for (const shape of doc.shapes) {
    if (others.includes(shape.track)) {
      const slot = `${shape.type}@${shape.frame}`;
      if (taken.has(slot)) continue;
      taken.add(slot);
      shape.track = target;
      if (label) shape.label = label;
    }
    kept.push(shape);
  }
  doc.shapes = kept;
  for (const number of others) delete doc.tracks[number];
  return target;
}

/** Copy an item to the next frame (a keyframe of the same track, replacing one there). */
export function copyToFrame(doc, item, toFrame) {
  const { id, ...geometry } = structuredClone(item.value);
  if (item.track != null) {
    doc.shapes = doc.shapes.filter(
      (s) => !(s.track === item.track && s.type === item.type && s.frame === toFrame),
    );
  }
  return addShape(doc, { ...geometry, label: item.label, track: item.track, frame: toFrame });
}

/** A keyframe of a track on `frame`, copied from its nearest keyframe: extends the track
 * (interpolation then fills the frames between). Returns the new shape, or null. */
export function extendTrack(doc, number, type, frame) {
  const keyframes = doc.shapes.filter((s) => s.track === number && s.type === type);
  if (!keyframes.length || keyframes.some((s) => s.frame === frame)) return null;
  const nearest = keyframes.reduce((a, b) =>
    Math.abs(b.frame - frame) < Math.abs(a.frame - frame) ? b : a,
  );
  const { id, ...geometry } = structuredClone(nearest);
  return addShape(doc, { ...geometry, frame });
}

/** Frames holding a keyframe of a track, for the timeline. */
export function keyframesOf(doc, number) {
  return [...new Set(doc.shapes.filter((s) => s.track === number).map((s) => s.frame))].sort(
    (a, b) => a - b,
  );
}

/** Tracks with their extent, for the track list. */
export function trackList(doc) {
  const out = new Map();
  for (const shape of doc.shapes) {
    if (shape.track == null) continue;
    const entry = out.get(shape.track) ?? {
      number: shape.track,
      label: doc.tracks[shape.track]?.label ?? shape.label,
      start: shape.frame,
      end: shape.frame,
      keyframes: 0,
      types: new Set(),
    };
    entry.start = Math.min(entry.start, shape.frame);
    entry.end = Math.max(entry.end, shape.frame);
    entry.keyframes += 1;
    entry.types.add(shape.type);
    out.set(shape.track, entry);
  }
  return [...out.values()].sort((a, b) => a.number - b.number);
}

// -- API payload -------------------------------------------------------------------------

/** A document from a stored version; frames = [{id, ...}] in task order. */
export function fromPayload(payload, frames) {
  const doc = emptyDoc();
  const position = new Map(frames.map((f, i) => [f.id, i]));
  for (const track of payload.tracks ?? []) {
    doc.tracks[track.number] = { number: track.number, label: track.label };
  }
  const take = (raw, type) => {
    if (raw.track != null && raw.keyframe === false) return; // recomputed by interpolation
    const frame = position.get(raw.frame) ?? 0;
    const base = {
      type,
      frame,
      label: raw.label,
      track: raw.track ?? null,
      source: raw.source ?? "human",
      confidence: raw.confidence ?? null,
    };
    if (type === "box") addShape(doc, { ...base, x: raw.x, y: raw.y, w: raw.w, h: raw.h });
    else addShape(doc, { ...base, points: structuredClone(raw.points) });
    if (raw.track != null && !doc.tracks[raw.track]) {
      doc.tracks[raw.track] = { number: raw.track, label: raw.label };
    }
  };
  for (const box of payload.boxes ?? []) take(box, "box");
  for (const inst of payload.keypoints ?? []) take(inst, "kp");
  return doc;
}

function round(value) {
  return Math.round(value * 100) / 100;
}

/**
 * The payload the API stores: keyframes plus every interpolated frame (keyframe: false), so
 * exports need no interpolation. `where` maps "boxes[3]" to {shapeId, track, frame} for errors.
 */
export function toPayload(doc, frames) {
  const payload = { tracks: [], boxes: [], keypoints: [] };
  const where = {};
  const emit = (shape, frame, keyframe, ownerId) => {
    const common = {
      frame: frames[frame]?.id ?? null,
      label: shape.label,
      track: shape.track,
      keyframe,
      source: shape.source ?? "human",
      confidence: shape.confidence ?? null,
    };
    if (shape.type === "box") {
      where[`boxes[${payload.boxes.length}]`] = { shapeId: ownerId, track: shape.track, frame };
      payload.boxes.push({
        ...common,
        x: round(shape.x),
        y: round(shape.y),
        w: round(shape.w),
        h: round(shape.h),
      });
    } else {
      const points = {};
      for (const [name, p] of Object.entries(shape.points)) {
        points[name] = p[2] > 0 ? [round(p[0]), round(p[1]), p[2]] : [0, 0, 0];
      }
      where[`keypoints[${payload.keypoints.length}]`] = {
        shapeId: ownerId,
        track: shape.track,
        frame,
      };
      payload.keypoints.push({ ...common, points });
    }
  };
  for (const shape of doc.shapes) if (shape.track == null) emit(shape, shape.frame, true, shape.id);
  const used = new Set();
  for (const keyframes of trackGroups(doc).values()) {
    const first = keyframes[0];
    const last = keyframes[keyframes.length - 1];
    const label = doc.tracks[first.track]?.label ?? first.label;
    used.add(first.track);
    for (let frame = first.frame; frame <= last.frame; frame++) {
      const at = shapeAtFrame(keyframes, frame);
      const owner = at.keyframe ? at.keyframe.id : null;
      emit({ ...at.value, label, track: first.track }, frame, !at.interpolated, owner);
    }
  }
  for (const number of [...used].sort((a, b) => a - b)) {
    payload.tracks.push({ number, label: doc.tracks[number]?.label });
  }
  return { payload, where };
}

/** Counts for the status line. */
export function countShapes(doc) {
  return {
    boxes: doc.shapes.filter((s) => s.type === "box").length,
    skeletons: doc.shapes.filter((s) => s.type === "kp").length,
    tracks: Object.keys(doc.tracks).length,
  };
}
