// Pre-annotation on the labeling page: the active model's predictions for the task, fetched
// when a task opens with nothing saved yet. Shapes the project's thresholds accept are added
// as ordinary shapes (source "model", keeping their confidence); skeletons keep their
// uncertain points unplaced, and the next-point prompt walks those. The rest are suggestions,
// drawn dashed with their confidence, to accept (Enter), adjust (accept, then edit) or
// delete (Delete). Pending suggestions live in doc.suggestions, so undo and the draft kept
// in this browser carry them.

import { loadLocalDraft, request, storeLocalDraft } from "./api.js";
import { addShape, toPayload } from "./model.js";
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
  return addShape(doc, {
    type: suggestion.type,
    frame: suggestion.frame,
    label: suggestion.label,
    track: null,
    source: "model",
    confidence: suggestion.confidence,
    ...geometry(suggestion, suggestion.type),
  });
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

// -- methods of LabelApp ----------------------------------------------------------------

function percent(confidence) {
  return `${Math.round((confidence ?? 0) * 100)}%`;
}

export const suggestionsMethods = {
  /** After a task opened: restore pending suggestions kept in this browser, or ask the
   * server when nothing was saved yet. Never blocks the page. */
  async loadSuggestions(serverVersion) {
    this.suggestionSelected = null;
    const taskId = this.task.id;
    if (!this.editable) return this.renderSuggestions();
    if (!this.doc.suggestions) {
      const local = loadLocalDraft(taskId);
      // Saved already, and this browser holds the same shapes plus what the server does not
      // keep (pending suggestions, the points still to place): take this browser's copy.
      if (
        serverVersion != null &&
        local?.doc?.suggestions &&
        (local.baseVersion ?? null) === serverVersion &&
        shapesKey(local.doc, this.frames) === shapesKey(this.doc, this.frames)
      ) {
        this.doc = local.doc;
        this.invalidate();
      }
    }
    if (this.doc.suggestions || serverVersion != null || this.doc.shapes.length) {
      document.documentElement.dataset.suggestions = String(taskId);
      return this.afterSuggestions();
    }
    let result = null;
    try {
      result = await request("GET", url(SUGGESTIONS_URL, taskId));
    } catch {
      result = null; // no suggestions is no loss: the task is labeled by hand
    }
    if (this.task?.id !== taskId) return; // the annotator moved on meanwhile
    if (result?.ok && !this.doc.suggestions) {
      const accepted = applySuggestions(this.doc, result.data, this.frames);
      if (accepted.length && this.saver) this.saver.markDirty();
      this.invalidate();
      this.renderCounts();
      this.requestDraw();
      const placing = nextUncertain(this.doc, this.pointNames(), this.frame);
      if (placing && !this.placing) {
        this.setTool("kp");
        this.placing = placing;
        this.selection = { id: placing.shapeId };
        this.renderHint();
        this.renderSelection();
      }
    }
    document.documentElement.dataset.suggestions = String(taskId);
    this.afterSuggestions();
  },

  pointNames() {
    return this.schema.skeleton.keypoints.map((k) => k.name);
  },

  /** The next-point prompt moves on to the next model skeleton with unplaced points. */
  nextUncertainPlacing(afterId) {
    return nextUncertain(this.doc, this.pointNames(), this.frame, afterId);
  },

  afterSuggestions() {
    this.renderSuggestions();
    this.requestDraw();
  },

  /** Keys and buttons: Enter accepts, Delete deletes the selected suggestion. Returns true
   * when it handled the action. */
  suggestionAction(action) {
    if (!this.editable || !this.doc.suggestions?.length) return false;
    if (action === "accept-all-suggestions") {
      this.acceptAllSuggestions();
      this.stage.focus({ preventScroll: true });
      return true;
    }
    if (action === "accept-suggestion") {
      const id = this.suggestionSelected ?? suggestionsAt(this.doc, this.frame)[0]?.id;
      if (id != null) this.acceptSuggestionById(id);
      return true;
    }
    if (action === "delete" && this.suggestionSelected != null && !this.selectedItem()) {
      this.deleteSuggestionById(this.suggestionSelected);
      return true;
    }
    return false;
  },

  acceptSuggestionById(id) {
    this.change(() => {
      const shape = acceptSuggestion(this.doc, id);
      if (shape) this.selection = { id: shape.id };
    });
    this.suggestionSelected = null;
    this.renderSuggestions();
  },

  deleteSuggestionById(id) {
    this.change(() => dropSuggestion(this.doc, id), { save: false });
    this.suggestionSelected = null;
    this.keepSuggestionsLocally();
    this.renderSuggestions();
  },

  acceptAllSuggestions() {
    const ids = (this.doc.suggestions ?? []).map((s) => s.id);
    if (!ids.length) return;
    this.change(() => {
      for (const id of ids) acceptSuggestion(this.doc, id);
    });
    this.suggestionSelected = null;
    this.renderSuggestions();
  },

  /** Deleting a suggestion changes no shape, so nothing is sent; the browser copy keeps it. */
  keepSuggestionsLocally() {
    if (!this.saver) return;
    storeLocalDraft(this.task.id, {
      baseVersion: this.saver.baseVersion,
      doc: this.doc,
      dirty: this.saver.dirty,
    });
  },

  selectSuggestion(id) {
    this.suggestionSelected = id;
    if (id != null) this.selectItem(null);
    this.renderSuggestions();
    this.requestDraw();
  },

  /** Select tool: a click on a suggestion selects it; true when one was hit. */
  pickSuggestion(p) {
    if (this.shapesHidden || !this.doc.suggestions?.length) return false;
    const hit = suggestionAt(this.doc, this.frame, p.ix, p.iy, 8 / this.view.scale);
    if (!hit) return false;
    this.selectSuggestion(hit.id);
    return true;
  },

  renderSuggestions() {
    const panel = $("suggestions-panel");
    if (!panel) return;
    const pending = this.editable ? (this.doc.suggestions ?? []) : [];
    panel.hidden = !pending.length;
    $("suggestions-version").textContent = this.doc.modelVersion
      ? `· ${this.doc.modelVersion}`
      : "";
    const list = $("suggestion-list");
    list.replaceChildren();
    list.dataset.count = String(pending.length);
    for (const s of pending) {
      const li = document.createElement("li");
      li.dataset.suggestion = String(s.id);
      if (s.id === this.suggestionSelected) li.classList.add("selected");
      const text = document.createElement("span");
      text.className = "name";
      const where = this.frames.length > 1 ? ` · frame ${s.frame + 1}` : "";
      text.textContent = `${s.label} ${s.type === "box" ? "box" : "skeleton"} · ${percent(s.confidence)}${where}`;
      text.addEventListener("click", () => {
        if (s.frame !== this.frame) this.setFrame(s.frame);
        this.selectSuggestion(s.id);
        this.stage.focus({ preventScroll: true });
      });
      const accept = document.createElement("button");
      accept.type = "button";
      accept.textContent = "Accept";
      accept.title = "Make it a shape (Enter)";
      accept.addEventListener("click", () => {
        this.acceptSuggestionById(s.id);
        this.stage.focus({ preventScroll: true });
      });
      const drop = document.createElement("button");
      drop.type = "button";
      drop.textContent = "Delete";
      drop.title = "Drop it (select it, then Delete)";
      drop.addEventListener("click", () => {
        this.deleteSuggestionById(s.id);
        this.stage.focus({ preventScroll: true });
      });
      li.append(text, accept, drop);
      list.append(li);
    }
  },

  /** Drawn over the shapes: suggestions dashed and translucent with their confidence, and
   * where the model put the uncertain points of accepted skeletons still to be placed. */
  drawSuggestions() {
    if (this.shapesHidden) return;
    const pending = suggestionsAt(this.doc, this.frame);
    const hints = this.doc.shapes.filter((s) => s.frame === this.frame && s.uncertain?.length);
    if (!pending.length && !hints.length) return;
    const ctx = this.renderer.shapeCtx;
    const { scale: s, x: ox, y: oy } = this.view;
    ctx.save();
    ctx.setTransform(this.renderer.ratio, 0, 0, this.renderer.ratio, 0, 0);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    for (const g of pending) {
      const selected = g.id === this.suggestionSelected;
      const color = this.colors[g.label] || "#e6194b";
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
      } else {
        for (const [a, b] of this.schema.skeleton.edges) {
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
    }
    ctx.globalAlpha = 0.7;
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffffff";
    ctx.fillStyle = "#ffffff";
    for (const shape of hints) {
      for (const name of shape.uncertain) {
        const p = shape.uncertainPoints?.[name];
        if (!p || (shape.points[name]?.[2] ?? 0) > 0) continue;
        ctx.beginPath();
        ctx.arc(p[0] * s + ox, p[1] * s + oy, 6, 0, Math.PI * 2);
        ctx.stroke();
        ctx.fillText(`${name}?`, p[0] * s + ox + 8, p[1] * s + oy - 4);
      }
    }
    ctx.restore();
  },
};
