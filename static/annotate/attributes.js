// Shape attributes (annotate/attributes.py is the server's side): each class declares them
// (checkbox, select, number, text); a mutable one may change along a track, keyframe by
// keyframe (it holds from a keyframe to the next, as CVAT has it), an immutable one is the
// same on every shape of the track. Plus every shape's own `occluded` flag. Pure, no DOM.

import { materialize } from "./model.js";

/** The attribute schema of a class, [] when it has none. */
export function specsOf(schema, label) {
  return schema.classes.find((c) => c.name === label)?.attributes ?? [];
}

export function defaultValue(spec) {
  if ("default" in spec) return spec.default;
  return { checkbox: false, select: spec.values?.[0] ?? "", number: spec.min ?? 0, text: "" }[
    spec.input
  ];
}

/** The value an item (or stored shape) shows for an attribute: its own, else the default. */
export function valueOf(value, spec) {
  const given = value.attributes?.[spec.name];
  return given === undefined ? defaultValue(spec) : given;
}

/** What a key press makes of a value: a checkbox flips, a select takes its next value;
 * null for a number or a text (typed in their field instead). */
export function nextValue(spec, value) {
  if (spec.input === "checkbox") return !value;
  if (spec.input === "select") {
    const values = spec.values ?? [];
    return values[(values.indexOf(value) + 1) % values.length];
  }
  return null;
}

/** A number field's text as a value, or null when it is not a number of the schema. */
export function parseNumber(spec, text) {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) return null;
  if (value < spec.min || value > spec.max) return null;
  const steps = (value - spec.min) / spec.step;
  return Math.abs(steps - Math.round(steps)) > 1e-6 ? null : value;
}

function assign(shape, name, value) {
  shape.attributes = { ...(shape.attributes ?? {}), [name]: value };
}

/**
 * Set an attribute of an item on the current frame. Untracked, or mutable on a track: the
 * item's keyframe here (made one if it was interpolated). Immutable on a track: every shape
 * of the track. Returns the stored shape changed on this frame.
 */
export function setAttribute(doc, item, spec, value) {
  if (item.track != null && !spec.mutable) {
    for (const shape of doc.shapes) if (shape.track === item.track) assign(shape, spec.name, value);
    return item.keyframe ?? null;
  }
  const shape = materialize(doc, item);
  assign(shape, spec.name, value);
  return shape;
}

/** Occluded is per frame (as in CVAT): the item's keyframe here gets the flag. */
export function setOccluded(doc, item, occluded) {
  const shape = materialize(doc, item);
  shape.occluded = occluded;
  return shape;
}
