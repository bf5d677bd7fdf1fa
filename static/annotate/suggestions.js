// Pre-annotation on the labeling page: the active model's predictions for the task, fetched
// when a task opens with nothing saved yet. Shapes the project's thresholds accept are added
// as ordinary shapes (source "model", keeping their confidence); skeletons keep their
// uncertain points unplaced, and the next-point prompt walks those; the sure points are
// pre-filled, drawn dimmed until a person confirms them (Shift+Enter confirms all that is
// shown) or moves them (then they are the person's). The rest are suggestions,
// drawn dashed with their confidence, to accept (Enter), adjust (accept, then edit) or
// delete (Delete). Pending suggestions live in doc.suggestions, so undo and the draft kept
// in this browser carry them. The functions at the top are pure (tested on their own);
// the Suggestions class shows them on the page.

import { loadLocalDraft, request } from "./api.js";
import { addShape, confirmPrefilled, prefilledNames, toPayload } from "./model.js";
import { $, url, canonical } from "./dom.js";

const SUGGESTIONS_URL = "/api/tasks/{id}/suggestions/";

// -- pure: server shapes <-> the document ------------------------------------------------

function geometry(raw, type) {
  if (type === "box") return { x: raw.x, y: raw.y, w: raw.w, h: raw.h };
  return { points: structuredClone(raw.points) };
}

/** Add the server's answer to `doc`: accepted shapes as model shapes, the rest as pending
 * suggestions. frames = [{id}] in task order. Returns the accepted shapes. */
export function applySuggestions(doc, data, frames) {
  const position = new Map(frames.map((f, i) => [f.id, i]));
  const at = (raw) => (raw.frame == null ? 0 : (position.get(raw.frame) ?? null));
  const accepted = [];
  for (const raw of data.accepted ?? []) {
    const frame = at(raw);
    if (frame == null) continue;
    const shape = addShape(doc, {
      type: raw.type,
      frame,
      label: raw.label,
      track: null,
      source: "model",
      confidence: raw.confidence,
      ...geometry(raw, raw.type),
    });
    if (raw.type === "kp") {
      // The sure points are pre-filled (drawn dimmed until confirmed), each with its source
      // and the model's confidence; the uncertain ones wait for the next-point prompt.
      shape.pointSources = structuredClone(raw.point_sources ?? {});
      shape.pointConfidence = structuredClone(raw.point_confidence ?? {});
      shape.confirmed = [];
    }
    if (raw.type === "kp" && raw.uncertain?.length) {
      shape.uncertain = [...raw.uncertain];
      shape.uncertainPoints = structuredClone(raw.uncertain_points ?? {});
    }
    accepted.push(shape);
  }
  doc.suggestions = [];
  doc.nextSuggestion = 1;
  for (const raw of data.suggestions ?? []) {
    const frame = at(raw);
    if (frame == null) continue;
    doc.suggestions.push({
      id: doc.nextSuggestion++,
      type: raw.type,
      frame,
      label: raw.label,
      confidence: raw.confidence,
      pointConfidence: raw.point_confidence ?? null,
      ...geometry(raw, raw.type),
    });
  }
  doc.modelVersion = data.model_version ?? null;
  return accepted;
}

/** Compares the shapes of two documents as the server stores them (point order aside:
 * the server may give a skeleton's points in another order). */
export function shapesKey(doc, frames) {
  const { payload } = toPayload(doc, frames);
  for (const instance of payload.keypoints) {
    instance.points = Object.fromEntries(
      Object.entries(instance.points).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
  }
  return canonical(payload);
}

export function suggestionsAt(doc, frame) {
  return (doc.suggestions ?? []).filter((s) => s.frame === frame);
}

/** Turn a pending suggestion into a model shape; returns the shape, or null. */
export function acceptSuggestion(doc, id) {
  const suggestion = (doc.suggestions ?? []).find((s) => s.id === id);
  if (!suggestion) return null;
  doc.suggestions = doc.suggestions.filter((s) => s.id !== id);
  const shape = addShape(doc, {
    type: suggestion.type,
    frame: suggestion.frame,
    label: suggestion.label,
    track: null,
    source: "model",
    confidence: suggestion.confidence,
    ...geometry(suggestion, suggestion.type),
  });
  if (shape.type === "kp") {
    // Accepted by a person: the model's points, confirmed as they are.
    shape.pointConfidence = structuredClone(suggestion.pointConfidence ?? {});
    shape.confirmed = Object.keys(shape.points).filter((n) => shape.points[n][2] > 0);
  }
  return shape;
}

export function dropSuggestion(doc, id) {
  doc.suggestions = (doc.suggestions ?? []).filter((s) => s.id !== id);
}

/** The topmost suggestion box under (x, y) on `frame`, or a skeleton with a point near it. */
export function suggestionAt(doc, frame, x, y, tolerance) {
  const here = suggestionsAt(doc, frame);
  for (const s of here) {
    if (s.type !== "kp") continue;
    for (const p of Object.values(s.points)) {
      if (p[2] > 0 && Math.hypot(p[0] - x, p[1] - y) <= tolerance) return s;
    }
  }
  let best = null;
  for (const s of here) {
    if (s.type !== "box") continue;
    if (x >= s.x && x <= s.x + s.w && y >= s.y && y <= s.y + s.h) {
      if (!best || s.w * s.h < best.w * best.h) best = s; // the smallest: the one aimed at
    }
  }
  return best;
}

/** The first unplaced uncertain point of a model skeleton other than `afterId`, for the
 * next-point prompt: {shapeId, index} or null. */
export function nextUncertain(doc, names, frame, afterId = null) {
  for (const shape of doc.shapes) {
    if (shape.type !== "kp" || shape.frame !== frame || shape.id === afterId) continue;
    const uncertain = new Set(shape.uncertain ?? []);
    const index = names.findIndex((n) => uncertain.has(n) && (shape.points[n]?.[2] ?? 0) === 0);
    if (index >= 0) return { shapeId: shape.id, index };
  }
  return null;
}

// -- on the page --------------------------------------------------------------------------

function percent(confidence) {
  return `${Math.round((confidence ?? 0) * 100)}%`;
}

export class Suggestions {
  /**
   * goToFrame(position): show another frame; keepLocally(): store the document in this
   * browser without sending it; onUncertainSkeleton(placing): a model skeleton has points
   * still to place, the next-point prompt should start there.
   */
  constructor(editor, { canvas, stage, goToFrame, keepLocally, onUncertainSkeleton }) {
    this.editor = editor;
    this.canvas = canvas;
    this.stage = stage;
    this.goToFrame = goToFrame;
    this.keepLocally = keepLocally;
    this.onUncertainSkeleton = onUncertainSkeleton;
    this.selected = null; // id of the selected suggestion
  }

  /** After a task opened: restore pending suggestions kept in this browser, or ask the
   * server when nothing was saved yet. Never blocks the page. */
  async load(serverVersion) {
    const editor = this.editor;
    this.selected = null;
    const taskId = editor.task.id;
    if (!editor.editable) return this.render();
    if (!editor.doc.suggestions) {
      const local = loadLocalDraft(taskId);
      // Saved already, and this browser holds the same shapes plus what the server does not
      // keep (pending suggestions, the points still to place): take this browser's copy.
      if (
        serverVersion != null &&
        local?.doc?.suggestions &&
        (local.baseVersion ?? null) === serverVersion &&
        shapesKey(local.doc, editor.frames) === shapesKey(editor.doc, editor.frames)
      ) {
        editor.setDoc(local.doc);
      }
    }
    if (editor.doc.suggestions || serverVersion != null || editor.doc.shapes.length) {
      document.documentElement.dataset.suggestions = String(taskId);
      return this.afterLoad();
    }
    let result = null;
    try {
      result = await request("GET", url(SUGGESTIONS_URL, taskId));
    } catch {
      result = null; // no suggestions is no loss: the task is labeled by hand
    }
    if (editor.task?.id !== taskId) return; // the annotator moved on meanwhile
    if (result?.ok && !editor.doc.suggestions) {
      const accepted = applySuggestions(editor.doc, result.data, editor.frames);
      editor.changed({ save: accepted.length > 0 }); // no undo step: nothing to go back to
      const prefilled = accepted.reduce((n, shape) => n + prefilledNames(shape).length, 0);
      if (prefilled) {
        editor.emit("notice", {
          id: "prefilled",
          kind: "info",
          text: `${prefilled} point${prefilled === 1 ? "" : "s"} pre-filled by the model (dimmed): place the uncertain ones; Shift+Enter confirms all that is shown.`,
        });
      }
      const placing = nextUncertain(editor.doc, editor.pointNames(), editor.frame);
      if (placing && !editor.placing) this.onUncertainSkeleton(placing);
    }
    document.documentElement.dataset.suggestions = String(taskId);
    this.afterLoad();
  }

  afterLoad() {
    this.render();
    this.canvas.requestDraw();
  }

  /** Shift+Enter: confirm all that is shown on this frame, the pre-filled points of its
   * skeletons and its pending suggestions. Returns how many points and suggestions. */
  confirmShown() {
    const editor = this.editor;
    if (!editor.editable) return 0;
    const { doc, frame } = editor;
    const pending = suggestionsAt(doc, frame).map((s) => s.id);
    const prefilled = doc.shapes.some(
      (s) => s.type === "kp" && s.frame === frame && prefilledNames(s).length,
    );
    if (!pending.length && !prefilled) return 0;
    let count = pending.length;
    editor.change(() => {
      for (const id of pending) acceptSuggestion(doc, id);
      count += confirmPrefilled(doc, frame);
    });
    this.selected = null;
    this.render();
    editor.emit("notice", {
      id: "prefilled",
      kind: "info",
      text: `Confirmed ${count} pre-filled point${count === 1 ? "" : "s"} and suggestion${pending.length === 1 ? "" : "s"} on this frame.`,
    });
    return count;
  }

  /** Keys and buttons: Enter accepts, Delete deletes the selected suggestion. Returns true
   * when it handled the action. */
  handle(action) {
    const editor = this.editor;
    if (!editor.editable || !editor.doc.suggestions?.length) return false;
    if (action === "accept-all-suggestions") {
      this.acceptAll();
      this.stage.focus({ preventScroll: true });
      return true;
    }
    if (action === "accept-suggestion") {
      const id = this.selected ?? suggestionsAt(editor.doc, editor.frame)[0]?.id;
      if (id != null) this.accept(id);
      return true;
    }
    if (action === "delete" && this.selected != null && !editor.selectedItem()) {
      this.drop(this.selected);
      return true;
    }
    return false;
  }

  accept(id) {
    const editor = this.editor;
    editor.change(() => {
      const shape = acceptSuggestion(editor.doc, id);
      if (shape) editor.selection = { id: shape.id };
    });
    this.selected = null;
    this.render();
  }

  /** Deleting a suggestion changes no shape, so nothing is sent; the browser copy keeps it. */
  drop(id) {
    this.editor.change(() => dropSuggestion(this.editor.doc, id), { save: false });
    this.selected = null;
    this.keepLocally();
    this.render();
  }

  acceptAll() {
    const editor = this.editor;
    const ids = (editor.doc.suggestions ?? []).map((s) => s.id);
    if (!ids.length) return;
    editor.change(() => {
      for (const id of ids) acceptSuggestion(editor.doc, id);
    });
    this.selected = null;
    this.render();
  }

  select(id) {
    this.selected = id;
    if (id != null) this.editor.selectItem(null);
    this.render();
    this.canvas.requestDraw();
  }

  /** Select tool: a click on a suggestion selects it; true when one was hit. */
  pick(p) {
    const editor = this.editor;
    if (this.canvas.shapesHidden || !editor.doc.suggestions?.length) return false;
    const hit = suggestionAt(editor.doc, editor.frame, p.ix, p.iy, 8 / this.canvas.view.scale);
    if (!hit) return false;
    this.select(hit.id);
    return true;
  }

  render() {
    const panel = $("suggestions-panel");
    if (!panel) return;
    const editor = this.editor;
    const pending = editor.editable ? (editor.doc.suggestions ?? []) : [];
    panel.hidden = !pending.length;
    $("suggestions-version").textContent = editor.doc.modelVersion
      ? `· ${editor.doc.modelVersion}`
      : "";
    const list = $("suggestion-list");
    list.replaceChildren();
    list.dataset.count = String(pending.length);
    for (const s of pending) list.append(this.row(s));
  }

  row(s) {
    const refocus = () => this.stage.focus({ preventScroll: true });
    const li = document.createElement("li");
    li.dataset.suggestion = String(s.id);
    if (s.id === this.selected) li.classList.add("selected");
    const text = document.createElement("span");
    text.className = "name";
    const where = this.editor.frames.length > 1 ? ` · frame ${s.frame + 1}` : "";
    text.textContent = `${s.label} ${s.type === "box" ? "box" : "skeleton"} · ${percent(s.confidence)}${where}`;
    text.addEventListener("click", () => {
      if (s.frame !== this.editor.frame) this.goToFrame(s.frame);
      this.select(s.id);
      refocus();
    });
    const accept = document.createElement("button");
    accept.type = "button";
    accept.textContent = "Accept";
    accept.title = "Make it a shape (Enter)";
    accept.addEventListener("click", () => {
      this.accept(s.id);
      refocus();
    });
    const drop = document.createElement("button");
    drop.type = "button";
    drop.textContent = "Delete";
    drop.title = "Drop it (select it, then Delete)";
    drop.addEventListener("click", () => {
      this.drop(s.id);
      refocus();
    });
    li.append(text, accept, drop);
    return li;
  }

  /** Drawn over the shapes: suggestions dashed and translucent with their confidence, and
   * where the model put the uncertain points of accepted skeletons still to be placed. */
  draw() {
    if (this.canvas.shapesHidden) return;
    const { doc, frame } = this.editor;
    const pending = suggestionsAt(doc, frame);
    const hints = doc.shapes.filter((s) => s.frame === frame && s.uncertain?.length);
    if (!pending.length && !hints.length) return;
    const { renderer, view } = this.canvas;
    const ctx = renderer.shapeCtx;
    ctx.save();
    ctx.setTransform(renderer.ratio, 0, 0, renderer.ratio, 0, 0);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    for (const g of pending) this.drawSuggestion(ctx, view, g);
    this.drawUncertainPoints(ctx, view, hints);
    ctx.restore();
  }

  drawSuggestion(ctx, view, g) {
    const { scale: s, x: ox, y: oy } = view;
    const selected = g.id === this.selected;
    const color = this.editor.colors[g.label] || "#e6194b";
    ctx.globalAlpha = selected ? 0.95 : 0.6;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = selected ? 2.5 : 1.5;
    ctx.setLineDash([6, 4]);
    if (g.type === "box") {
      const x = g.x * s + ox;
      const y = g.y * s + oy;
      ctx.strokeRect(x, y, g.w * s, g.h * s);
      ctx.globalAlpha = selected ? 0.25 : 0.1;
      ctx.fillRect(x, y, g.w * s, g.h * s);
      ctx.globalAlpha = selected ? 0.95 : 0.75;
      ctx.fillText(`${g.label}? ${percent(g.confidence)}`, x + 2, y - 2);
      return;
    }
    for (const [a, b] of this.editor.schema.skeleton.edges) {
      const pa = g.points[a];
      const pb = g.points[b];
      if (!pa || !pb || pa[2] === 0 || pb[2] === 0) continue;
      ctx.beginPath();
      ctx.moveTo(pa[0] * s + ox, pa[1] * s + oy);
      ctx.lineTo(pb[0] * s + ox, pb[1] * s + oy);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const [name, p] of Object.entries(g.points)) {
      if (p[2] === 0) continue;
      ctx.beginPath();
      ctx.arc(p[0] * s + ox, p[1] * s + oy, 4, 0, Math.PI * 2);
      ctx.stroke();
      const c = g.pointConfidence?.[name];
      if (selected && c != null) ctx.fillText(percent(c), p[0] * s + ox + 6, p[1] * s + oy - 4);
    }
  }

  drawUncertainPoints(ctx, view, shapes) {
    const { scale: s, x: ox, y: oy } = view;
    ctx.globalAlpha = 0.7;
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffffff";
    ctx.fillStyle = "#ffffff";
    for (const shape of shapes) {
      for (const name of shape.uncertain) {
        const p = shape.uncertainPoints?.[name];
        if (!p || (shape.points[name]?.[2] ?? 0) > 0) continue;
        ctx.beginPath();
        ctx.arc(p[0] * s + ox, p[1] * s + oy, 6, 0, Math.PI * 2);
        ctx.stroke();
        ctx.fillText(`${name}?`, p[0] * s + ox + 8, p[1] * s + oy - 4);
      }
    }
  }
}
