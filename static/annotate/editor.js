// The task being labeled, without the DOM: its schema and frames, the shapes (a document, see
// model.js), the frame shown, the selection, the skeleton being placed, undo, and the server's
// validation errors per shape. The page's views subscribe to three events:
//   "change" {save}  the shapes changed (save: false when there is nothing to send)
//   "selection"      the selected shape or point changed
//   "notice" {id, text, kind?}  something the annotator should be told (a banner)

import { buildIndex, cloneDoc, emptyDoc, shapesAt, toPayload } from "./model.js";
import { UndoStack } from "./undo.js";

export class Editor {
  constructor() {
    this.listeners = { change: [], selection: [], notice: [] };
    this.undoStack = new UndoStack();
    this.task = null;
    this.schema = null;
    this.frames = [];
    this.editable = false;
    this.useTracks = false;
    this.colors = {}; // class name -> color
    this.hotkeys = {}; // key -> class name
    this.sides = {}; // keypoint name -> left | right | center
    this.currentLabel = null; // the class new shapes get
    this.doc = emptyDoc();
    this.frame = 0; // position in the task's frames
    this.selection = null; // {id} for an untracked shape, {track, type} for a tracked one
    this.selectedPoint = null;
    this.placing = null; // {shapeId, index, visibility?, only?} of the skeleton being placed
    this.errors = new Map(); // errorKeyOf(item) -> [messages]
    this.lastWhere = {}; // "boxes[3]" -> {shapeId, track, frame} of the last serialization
    this.itemsCache = null; // what is on the current frame
    this.indexCache = null; // the document's lookup tables (model.buildIndex)
    this.revision = 0; // counts changes of the document, for views that follow it
  }

  on(event, listener) {
    this.listeners[event].push(listener);
  }

  emit(event, detail) {
    for (const listener of this.listeners[event]) listener(detail);
  }

  /** A task opens: everything about the previous one is forgotten. */
  open({ task, schema, frames, editable }) {
    this.task = task;
    this.frames = frames;
    this.editable = editable;
    this.setSchema(schema);
    this.currentLabel = schema.classes[0]?.name ?? null;
    this.useTracks = task.kind === "video" && schema.tracks;
    this.doc = emptyDoc();
    this.frame = 0;
    this.selection = null;
    this.selectedPoint = null;
    this.placing = null;
    this.errors.clear();
    this.undoStack.clear();
    this.invalidate();
  }

  /** The label schema (on opening, or reloaded after a manager changed it). */
  setSchema(schema) {
    this.schema = schema;
    this.colors = Object.fromEntries(schema.classes.map((c) => [c.name, c.color]));
    this.hotkeys = Object.fromEntries(
      schema.classes.filter((c) => c.hotkey).map((c) => [c.hotkey, c.name]),
    );
    this.sides = Object.fromEntries(schema.skeleton.keypoints.map((k) => [k.name, k.side]));
    if (!this.colors[this.currentLabel]) this.currentLabel = schema.classes[0]?.name ?? null;
  }

  /** Replace the document without an undo step (opening, restoring a browser copy). */
  setDoc(doc) {
    this.doc = doc;
    this.invalidate();
  }

  /** Every edit goes through here: undo snapshot, then the "change" event. */
  change(fn, { save = true, snapshot = null } = {}) {
    const before = snapshot ?? cloneDoc(this.doc);
    fn();
    this.undoStack.push(before);
    this.changed({ save });
  }

  /** The document changed outside change() (no undo step of its own). */
  changed({ save = true } = {}) {
    this.invalidate();
    this.emit("change", { save });
  }

  undo() {
    const previous = this.undoStack.undo(cloneDoc(this.doc));
    if (!previous) return;
    this.doc = previous;
    this.placing = null;
    this.changed();
  }

  redo() {
    const next = this.undoStack.redo(cloneDoc(this.doc));
    if (!next) return;
    this.doc = next;
    this.changed();
  }

  /** Another frame: the document's index stays, only what is on the frame is recomputed. */
  setFrame(position) {
    this.frame = position;
    this.itemsCache = null;
  }

  get imageSize() {
    const f = this.frames[this.frame];
    return { width: f.width, height: f.height };
  }

  /** The document changed (shapes added, removed, moved to other frames or tracks): forget
   * what was computed from it. Geometry edited in place during a drag needs no call. */
  invalidate() {
    this.itemsCache = null;
    this.indexCache = null;
    this.revision += 1;
  }

  /** Keyframes per track and untracked shapes per frame (model.buildIndex), once per change. */
  index() {
    if (!this.indexCache) this.indexCache = buildIndex(this.doc);
    return this.indexCache;
  }

  /** What is on the current frame, tracked shapes interpolated (see model.shapesAt). */
  items() {
    if (!this.itemsCache) this.itemsCache = shapesAt(this.doc, this.frame, this.index());
    return this.itemsCache;
  }

  isSelected(item) {
    const sel = this.selection;
    if (!sel) return false;
    if (sel.id != null) return item.keyframe?.id === sel.id && item.track == null;
    return item.track === sel.track && item.type === sel.type;
  }

  selectedItem() {
    return this.items().find((item) => this.isSelected(item)) ?? null;
  }

  /** Select a shape on this frame (or nothing), and one of its points. */
  selectItem(item, point = null) {
    this.selectedPoint = point;
    this.select(
      item
        ? item.track != null
          ? { track: item.track, type: item.type }
          : { id: item.keyframe.id }
        : null,
    );
  }

  /** Select by {id} or {track, type}, keeping the selected point. */
  select(selection) {
    this.selection = selection;
    this.emit("selection");
  }

  selectPoint(name) {
    this.selectedPoint = name;
    this.emit("selection");
  }

  pointNames() {
    return this.schema.skeleton.keypoints.map((k) => k.name);
  }

  /** The point the next click places (the skeleton's first when none is being placed). */
  nextPointName() {
    if (!this.placing) return this.schema.skeleton.keypoints[0]?.name ?? null;
    return this.schema.skeleton.keypoints[this.placing.index]?.name ?? null;
  }

  /** The API payload; remembers where each payload entry came from, to place errors. */
  serialize() {
    const { payload, where } = toPayload(this.doc, this.frames);
    this.lastWhere = where;
    return { payload, where };
  }

  errorKeyOf(item) {
    return item.track != null
      ? `t:${item.type}:${item.track}@${this.frame}`
      : `s:${item.keyframe?.id}`;
  }

  /**
   * Take the server's field errors ({"boxes[2].w": [messages]}) and attach them to the shapes
   * they are about. Returns one row per message for the problems list:
   * {path, message, field, kind: "Box"|"Skeleton"|"", where: {shapeId, track, frame}|null,
   *  selection: what to select to show it}.
   */
  setErrors(errors) {
    this.errors.clear();
    const rows = [];
    for (const [path, messages] of Object.entries(errors ?? {})) {
      const base = path.match(/^(boxes|keypoints)\[\d+\]/)?.[0];
      const where = base ? this.lastWhere[base] : null;
      const field = base ? path.slice(base.length + 1) : path;
      const type = base?.startsWith("boxes") ? "box" : "kp";
      if (where) {
        const key =
          where.track != null ? `t:${type}:${where.track}@${where.frame}` : `s:${where.shapeId}`;
        this.errors.set(key, [
          ...(this.errors.get(key) || []),
          ...messages.map((m) => (field ? `${field}: ${m}` : m)),
        ]);
      }
      const kind = base ? (type === "box" ? "Box" : "Skeleton") : "";
      const selection = where
        ? where.track != null
          ? { track: where.track, type }
          : { id: where.shapeId }
        : null;
      for (const message of messages) rows.push({ path, message, field, kind, where, selection });
    }
    return rows;
  }
}
