// The document being labeled: tracks and shapes, kept as keyframes, with the operations the
// tools need (outside, split, merge, swap, copy to next frame) and conversion to and from the
// API payload. Pure data, no DOM.
//
// doc = {nextId, tracks: {number: {number, label}}, shapes: [shape]}
// shape = {id, type: "box"|"kp", frame: position in the task (0..n-1), label, track: number|null,
//          outside?: bool, occluded?: bool, attributes?: {name: value}, source, confidence,
//          x, y, w, h  |  points: {name: [x, y, v]}}
// A tracked shape in `shapes` is a keyframe; interpolate.js says where the track is on the
// other frames (it lasts until an outside keyframe, to the end of the task).

import { keyframeIndexAt, presentRanges, shapeAtFrame } from "./interpolate.js";

export const TYPES = ["box", "kp"];

export function emptyDoc() {
  return { nextId: 1, tracks: {}, shapes: [] };
}

export function cloneDoc(doc) {
  return structuredClone(doc);
}

function groupKey(type, track) {
  return `${type}:${track}`;
}

/**
 * The document's lookup tables, built once per change of the document and not per frame:
 * {groups: Map("type:track" -> keyframes sorted by frame), untracked: Map(frame -> shapes)}.
 * A frame is then drawn with one binary search per track, not a scan of every shape.
 */
export function buildIndex(doc) {
  const groups = new Map();
  const untracked = new Map();
  for (const shape of doc.shapes) {
    if (shape.track == null) {
      if (!untracked.has(shape.frame)) untracked.set(shape.frame, []);
      untracked.get(shape.frame).push(shape);
      continue;
    }
    const key = groupKey(shape.type, shape.track);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(shape);
  }
  for (const list of groups.values()) list.sort((a, b) => a.frame - b.frame);
  return { groups, untracked };
}

/** Keyframes of every (type, track), sorted by frame. */
export function trackGroups(doc) {
  return buildIndex(doc).groups;
}

/** The keyframes of one track and type, sorted by frame ([] when it has none). */
export function groupOf(doc, number, type, index = null) {
  if (index) return index.groups.get(groupKey(type, number)) ?? [];
  return doc.shapes
    .filter((s) => s.track === number && s.type === type)
    .sort((a, b) => a.frame - b.frame);
}

/**
 * What is on `frame`: [{key, type, track, label, interpolated, held, value, keyframe}] where
 * `value` holds the geometry (the stored shape itself for a keyframe or an untracked shape).
 */
export function shapesAt(doc, frame, index = buildIndex(doc)) {
  const items = [];
  for (const shape of index.untracked.get(frame) ?? []) {
    items.push({
      key: `s${shape.id}`,
      type: shape.type,
      track: null,
      label: shape.label,
      interpolated: false,
      held: false,
      value: shape,
      keyframe: shape,
    });
  }
  for (const [key, keyframes] of index.groups) {
    const at = shapeAtFrame(keyframes, frame);
    if (!at) continue;
    const first = keyframes[0];
    items.push({
      key: at.keyframe ? `s${at.keyframe.id}` : `${key}@${frame}`,
      type: first.type,
      track: first.track,
      label: doc.tracks[first.track]?.label ?? first.label,
      interpolated: at.interpolated,
      held: at.held,
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

function made(doc, fields) {
  return { source: "human", confidence: null, track: null, ...fields, id: doc.nextId++ };
}

export function addShape(doc, fields) {
  const shape = made(doc, fields);
  doc.shapes.push(shape);
  return shape;
}

export function findShape(doc, id) {
  return doc.shapes.find((s) => s.id === id) ?? null;
}

/** The geometry of a shape or item value, to make another shape from. */
function geometryOf(value) {
  const { id, frame, track, outside, keyframe, ...geometry } = structuredClone(value);
  return geometry;
}

/** Tidy the tracks after an edit: an outside keyframe with nothing before it to end (first,
 * or after another outside one) goes, and so does a track left with nothing to show. */
export function pruneTracks(doc) {
  const index = buildIndex(doc);
  const dropped = new Set();
  for (const keyframes of index.groups.values()) {
    let visible = false;
    for (const shape of keyframes) {
      if (shape.outside && !visible) dropped.add(shape.id);
      visible = !shape.outside;
    }
  }
  if (dropped.size) doc.shapes = doc.shapes.filter((s) => !dropped.has(s.id));
  const alive = new Set(doc.shapes.filter((s) => s.track != null).map((s) => s.track));
  for (const number of Object.keys(doc.tracks).map(Number)) {
    if (!alive.has(number)) delete doc.tracks[number];
  }
}

export function removeShape(doc, id) {
  doc.shapes = doc.shapes.filter((s) => s.id !== id);
  pruneTracks(doc);
}

/** Make an interpolated item a keyframe of its track on its frame; returns the stored shape. */
export function materialize(doc, item) {
  if (item.keyframe) return item.keyframe;
  const shape = addShape(doc, {
    ...geometryOf(item.value),
    frame: item.value.frame,
    label: item.label,
    track: item.track,
  });
  item.keyframe = shape;
  item.value = shape;
  item.interpolated = false;
  item.held = false;
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

/** The types (box, kp) a track has shapes of. */
export function typesOf(doc, number) {
  return TYPES.filter((type) => doc.shapes.some((s) => s.track === number && s.type === type));
}

/** Whether a track is on `frame`, and if not why: {present, type, reason}. */
export function presence(doc, number, frame, index = buildIndex(doc)) {
  let reason = "it has no shapes";
  for (const type of TYPES) {
    const keyframes = index.groups.get(groupKey(type, number));
    if (!keyframes?.length) continue;
    if (shapeAtFrame(keyframes, frame)) return { present: true, type, reason: "" };
    const i = keyframeIndexAt(keyframes, frame);
    if (i < 0) {
      const first = keyframes.find((k) => !k.outside);
      reason = first ? `it starts on frame ${first.frame + 1}` : "it is outside";
    } else {
      const next = keyframes.slice(i + 1).find((k) => !k.outside);
      reason =
        `it is outside from frame ${keyframes[i].frame + 1}` +
        (next ? ` until frame ${next.frame + 1}` : "");
    }
  }
  return { present: false, type: null, reason };
}

// -- outside, split, swap, merge -----------------------------------------------------------

/**
 * o: the track is gone from `frame` on (an outside keyframe there), or, where it is gone,
 * back again (the outside keyframe on this frame removed, else a keyframe here copied from
 * where it was last seen). Every type of the track follows `type`'s state. Frames before
 * `frame` keep what they showed. Returns "outside", "back" or null.
 */
export function toggleOutside(doc, number, frame, type) {
  const types = typesOf(doc, number);
  if (!types.length) return null;
  const lead = types.includes(type) ? type : types[0];
  const goes = Boolean(shapeAtFrame(groupOf(doc, number, lead), frame));
  for (const t of types) {
    const keyframes = groupOf(doc, number, t);
    const at = shapeAtFrame(keyframes, frame);
    const here = keyframes.find((k) => k.frame === frame);
    if (goes && at) {
      freezeBefore(doc, keyframes, frame);
      if (here) doc.shapes = doc.shapes.filter((s) => s !== here);
      addShape(doc, { ...geometryOf(at.value), frame, label: at.value.label, track: number, outside: true });
    } else if (!goes && !at) {
      if (here?.outside) {
        doc.shapes = doc.shapes.filter((s) => s !== here);
        continue;
      }
      const before = keyframes.filter((k) => k.frame < frame && !k.outside).pop();
      const source = before ?? keyframes.find((k) => !k.outside);
      if (!source) continue;
      if (here) doc.shapes = doc.shapes.filter((s) => s !== here);
      addShape(doc, { ...geometryOf(source), frame, label: source.label, track: number });
    }
  }
  pruneTracks(doc);
  return goes ? "outside" : "back";
}

/** Keep frames before `frame` as they are when what follows changes: a keyframe on the frame
 * before, where it is between two keyframes (interpolated towards a later one). */
function freezeBefore(doc, keyframes, frame) {
  const at = shapeAtFrame(keyframes, frame - 1);
  if (at && at.interpolated && !at.held) {
    const kf = keyframes[0];
    addShape(doc, { ...geometryOf(at.value), frame: frame - 1, label: kf.label, track: kf.track });
  }
}

/** A track's keyframes before `frame`, with a keyframe on frame - 1 where it is present
 * there, so that whatever follows cannot change those frames. */
function headOf(doc, keyframes, frame) {
  const head = keyframes.filter((k) => k.frame < frame);
  const at = frame > 0 ? shapeAtFrame(keyframes, frame - 1) : null;
  if (at?.interpolated) head.push(made(doc, { ...geometryOf(at.value), frame: frame - 1 }));
  return head;
}

/** A track's keyframes from `frame` on, with a keyframe on `frame` where it is present. */
function tailOf(doc, keyframes, frame) {
  const tail = keyframes.filter((k) => k.frame >= frame);
  const at = shapeAtFrame(keyframes, frame);
  if (at?.interpolated) tail.unshift(made(doc, { ...geometryOf(at.value), frame }));
  return tail;
}

/** A head and a tail as one track: where the tail is absent on `frame`, an outside keyframe
 * ends the head there. */
function joined(doc, head, tail, frame) {
  const out = [...head, ...tail];
  const last = head[head.length - 1];
  if (last && !last.outside && !tail.some((k) => k.frame === frame)) {
    out.push(made(doc, { ...geometryOf(last), frame, outside: true }));
  }
  return out;
}

function retag(shapes, number, label) {
  for (const shape of shapes) {
    shape.track = number;
    if (label) shape.label = label;
  }
  return shapes;
}

/** Why tracks a and b cannot swap identities, or null. */
export function swapProblem(doc, a, b) {
  if (a == null || b == null || a === b) return "Choose two different tracks to swap.";
  if (!doc.tracks[a] || !doc.tracks[b]) return "Both tracks must exist to swap them.";
  const labelA = doc.tracks[a].label;
  const labelB = doc.tracks[b].label;
  if (labelA !== labelB) {
    return `Track #${a} is a ${labelA} and #${b} a ${labelB}: only tracks of one class swap.`;
  }
  return null;
}

/**
 * w: tracks a and b exchange identities from `frame` on: what a showed from there is b's,
 * and b's is a's; earlier frames stay as they were. Both need one class. Returns whether
 * anything changed, or {error} when the swap cannot be made.
 */
export function swapTracks(doc, a, b, frame) {
  const error = swapProblem(doc, a, b);
  if (error) return { error };
  const labelA = doc.tracks[a].label;
  const labelB = doc.tracks[b].label;
  const rebuilt = [];
  for (const type of TYPES) {
    const A = groupOf(doc, a, type);
    const B = groupOf(doc, b, type);
    if (!A.length && !B.length) continue;
    rebuilt.push(...retag(joined(doc, headOf(doc, A, frame), tailOf(doc, B, frame), frame), a, labelA));
    rebuilt.push(...retag(joined(doc, headOf(doc, B, frame), tailOf(doc, A, frame), frame), b, labelB));
  }
  doc.shapes = [...doc.shapes.filter((s) => s.track !== a && s.track !== b), ...rebuilt];
  pruneTracks(doc);
  return true;
}

/** x: split a track at `frame`: from there on its shapes are a new track (its number is
 * returned; null when the track has nothing on one side of `frame`). */
export function splitTrack(doc, number, frame) {
  const label = doc.tracks[number]?.label;
  const kept = [];
  const moving = [];
  for (const type of TYPES) {
    const keyframes = groupOf(doc, number, type);
    if (!keyframes.length) continue;
    kept.push(...joined(doc, headOf(doc, keyframes, frame), [], frame));
    moving.push(...tailOf(doc, keyframes, frame));
  }
  const shows = (list) => list.some((k) => !k.outside);
  if (!shows(moving) || !shows(kept.filter((k) => k.frame < frame))) return null;
  const created = newTrack(doc, label ?? moving[0].label);
  const others = doc.shapes.filter((s) => s.track !== number);
  doc.shapes = [...others, ...retag(kept, number, label), ...retag(moving, created, label)];
  pruneTracks(doc);
  return created;
}

/**
 * m: merge tracks into the lowest number. Where two have a keyframe on one frame, a shape
 * beats an outside keyframe, else the lowest number's stays.
 */
export function mergeTracks(doc, numbers) {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  if (sorted.length < 2) return null;
  const [target, ...others] = sorted;
  const label = doc.tracks[target]?.label;
  const rank = new Map(sorted.map((n, i) => [n, i]));
  const best = new Map(); // "type@frame" -> shape
  for (const shape of doc.shapes) {
    if (!rank.has(shape.track)) continue;
    const slot = `${shape.type}@${shape.frame}`;
    const held = best.get(slot);
    const better =
      !held ||
      (held.outside && !shape.outside) ||
      (Boolean(held.outside) === Boolean(shape.outside) &&
        rank.get(shape.track) < rank.get(held.track));
    if (better) best.set(slot, shape);
  }
  const kept = new Set(best.values());
  doc.shapes = doc.shapes.filter((s) => !rank.has(s.track) || kept.has(s));
  for (const shape of kept) {
    shape.track = target;
    if (label) shape.label = label;
  }
  for (const number of others) delete doc.tracks[number];
  pruneTracks(doc);
  return target;
}

/** c: copy an item to another frame (a keyframe of the same track, replacing one there). */
export function copyToFrame(doc, item, toFrame) {
  if (item.track != null) {
    doc.shapes = doc.shapes.filter(
      (s) => !(s.track === item.track && s.type === item.type && s.frame === toFrame),
    );
  }
  return addShape(doc, {
    ...geometryOf(item.value),
    label: item.label,
    track: item.track,
    frame: toFrame,
  });
}

/** e: a keyframe of a track on `frame`, copied from its nearest keyframe where it was seen
 * (an outside keyframe there is replaced). Returns the new shape, or null. */
export function extendTrack(doc, number, type, frame) {
  const keyframes = groupOf(doc, number, type);
  const seen = keyframes.filter((k) => !k.outside);
  if (!seen.length || seen.some((s) => s.frame === frame)) return null;
  const nearest = seen.reduce((a, b) =>
    Math.abs(b.frame - frame) < Math.abs(a.frame - frame) ? b : a,
  );
  doc.shapes = doc.shapes.filter((s) => !(s.track === number && s.type === type && s.frame === frame));
  return addShape(doc, { ...geometryOf(nearest), frame, label: nearest.label, track: number });
}

/** Frames holding a keyframe of a track (outside ones too), for the timeline and `,` `.`. */
export function keyframesOf(doc, number, index = null) {
  const frames = new Set();
  for (const type of TYPES) for (const k of groupOf(doc, number, type, index)) frames.add(k.frame);
  return [...frames].sort((a, b) => a - b);
}

/** `,` / `.`: the track's keyframe before (step -1) or after (step 1) `frame`, or null. */
export function adjacentKeyframe(doc, number, frame, step, index = null) {
  const frames = keyframesOf(doc, number, index);
  if (step > 0) return frames.find((f) => f > frame) ?? null;
  return frames.filter((f) => f < frame).pop() ?? null;
}

/** Tracks with where they are present, for the track list:
 * [{number, label, types, keyframes, outside, ranges: [[first, last], ...], start, end}]. */
export function trackList(doc, frameCount, index = buildIndex(doc)) {
  const out = new Map();
  for (const keyframes of index.groups.values()) {
    const first = keyframes[0];
    const entry = out.get(first.track) ?? {
      number: first.track,
      label: doc.tracks[first.track]?.label ?? first.label,
      types: new Set(),
      keyframes: 0,
      outside: 0,
      ranges: [],
    };
    entry.types.add(first.type);
    for (const k of keyframes) {
      if (k.outside) entry.outside += 1;
      else entry.keyframes += 1;
    }
    entry.ranges = unionRanges([...entry.ranges, ...presentRanges(keyframes, frameCount)]);
    out.set(first.track, entry);
  }
  for (const entry of out.values()) {
    entry.start = entry.ranges[0]?.[0] ?? null;
    entry.end = entry.ranges[entry.ranges.length - 1]?.[1] ?? null;
  }
  return [...out.values()].sort((a, b) => a.number - b.number);
}

function unionRanges(ranges) {
  const sorted = ranges.map((r) => [...r]).sort((a, b) => a[0] - b[0]);
  const out = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
    else out.push(range);
  }
  return out;
}

// -- API payload -------------------------------------------------------------------------

/** A document from a stored version; frames = [{id, ...}] in task order. A track's stored
 * rows that are not keyframes (older versions kept every frame) are left to interpolation. */
export function fromPayload(payload, frames) {
  const doc = emptyDoc();
  const position = new Map(frames.map((f, i) => [f.id, i]));
  for (const track of payload.tracks ?? []) {
    doc.tracks[track.number] = { number: track.number, label: track.label };
  }
  const take = (raw, type) => {
    if (raw.track != null && raw.keyframe === false) return;
    const frame = position.get(raw.frame) ?? 0;
    const base = {
      type,
      frame,
      label: raw.label,
      track: raw.track ?? null,
      source: raw.source ?? "human",
      confidence: raw.confidence ?? null,
    };
    if (raw.track != null && raw.outside) base.outside = true;
    if (raw.occluded) base.occluded = true;
    if (raw.attributes && Object.keys(raw.attributes).length) {
      base.attributes = structuredClone(raw.attributes);
    }
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
 * The payload the API stores: untracked shapes and each track's keyframes (outside ones
 * with outside: true); the server computes the frames between (annotate/track_shapes.py).
 * `where` maps "boxes[3]" to {shapeId, track, frame} for errors.
 */
export function toPayload(doc, frames) {
  const payload = { tracks: [], boxes: [], keypoints: [] };
  const where = {};
  const emit = (shape) => {
    const common = {
      frame: frames[shape.frame]?.id ?? null,
      label: shape.track != null ? (doc.tracks[shape.track]?.label ?? shape.label) : shape.label,
      track: shape.track,
      keyframe: true,
      source: shape.source ?? "human",
      confidence: shape.confidence ?? null,
      occluded: Boolean(shape.occluded),
      attributes: shape.attributes ?? {},
    };
    if (shape.track != null) common.outside = Boolean(shape.outside);
    const place = { shapeId: shape.id, track: shape.track, frame: shape.frame };
    if (shape.type === "box") {
      where[`boxes[${payload.boxes.length}]`] = place;
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
      where[`keypoints[${payload.keypoints.length}]`] = place;
      payload.keypoints.push({ ...common, points });
    }
  };
  for (const shape of doc.shapes) if (shape.track == null) emit(shape);
  const used = new Set();
  const groups = [...trackGroups(doc).values()].sort(
    (a, b) => a[0].track - b[0].track || TYPES.indexOf(a[0].type) - TYPES.indexOf(b[0].type),
  );
  for (const keyframes of groups) {
    used.add(keyframes[0].track);
    for (const shape of keyframes) emit(shape);
  }
  for (const number of [...used].sort((a, b) => a - b)) {
    payload.tracks.push({ number, label: doc.tracks[number]?.label });
  }
  return { payload, where };
}

/** Counts for the status line (an outside keyframe is no shape). */
export function countShapes(doc) {
  let boxes = 0;
  let skeletons = 0;
  for (const s of doc.shapes) {
    if (s.outside) continue;
    if (s.type === "box") boxes += 1;
    else skeletons += 1;
  }
  return { boxes, skeletons, tracks: Object.keys(doc.tracks).length };
}
