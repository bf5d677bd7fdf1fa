// What the labeling page shows beside the image. Notices: the save status and the banners.
// Panels: the task and its counts, the reviewer's comment, the selected shape (with a
// skeleton's points and their visibility, its occluded flag and attributes), the problems the server found, the empty-page
// message and the shortcuts overlay; they read an Editor and call back for what they cannot
// do themselves (go to a frame, change a point's visibility).

import { SIDE_COLORS } from "./canvas.js";
import { countShapes, presence } from "./model.js";
import { renderShortcuts } from "./shortcuts.js";
import { parseNumber, specsOf, valueOf } from "./attributes.js";
import { $ } from "./dom.js";

/** The save status in the toolbar and the banners above the stage (one per id: showing a
 * banner again replaces it). */
export class Notices {
  constructor() {
    this.banners = {}; // id -> element
  }

  /** kind: saved | saving | dirty | retrying | error | blocked | idle (styled by label.css). */
  status(kind, text) {
    const el = $("save-status");
    el.dataset.kind = kind;
    el.textContent = text;
    el.title = text;
  }

  /** actions: [{label, run}] or [{label, href}] (opened in a new tab). */
  banner(id, kind, text, actions = []) {
    this.hide(id);
    const el = document.createElement("div");
    el.className = "lb-banner";
    el.dataset.kind = kind;
    el.dataset.banner = id;
    const span = document.createElement("span");
    span.className = "text";
    span.textContent = text;
    el.append(span);
    for (const action of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = action.label;
      if (action.href) {
        button.addEventListener("click", () => window.open(action.href, "_blank", "noopener"));
      } else {
        button.addEventListener("click", action.run);
      }
      el.append(button);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.title = "Dismiss";
    close.addEventListener("click", () => this.hide(id));
    el.append(close);
    $("banners").append(el);
    this.banners[id] = el;
  }

  shows(id) {
    return Boolean(this.banners[id]);
  }

  hide(id) {
    this.banners[id]?.remove();
    delete this.banners[id];
  }

  /** A new task: the previous one's banners go. */
  clear() {
    this.banners = {};
    $("banners").replaceChildren();
  }
}

const VISIBILITY_LABELS = { 2: "visible", 1: "occluded", 0: "not labeled" };

export class Panels {
  /**
   * goTo(frame, selection): show a frame and select a shape there (a problem was clicked);
   * setVisibility(item, pointName, visibility): the visibility menu of a point changed.
   */
  constructor(editor, { root, notices, mode, goTo, setVisibility, setAttribute, setOccluded }) {
    this.editor = editor;
    this.root = root;
    this.notices = notices;
    this.mode = mode;
    this.goTo = goTo;
    this.setVisibility = setVisibility;
    this.setAttribute = setAttribute; // (item, spec, value)
    this.setOccluded = setOccluded; // (item, occluded)
  }

  showEmpty(text) {
    const empty = $("empty");
    empty.textContent = text;
    empty.hidden = false;
    this.root.dataset.state = "empty";
  }

  renderTaskInfo() {
    const t = this.editor.task;
    const what = t.kind === "video" ? `video frames ${t.frame_start}–${t.frame_end}` : "image";
    $("task-info").textContent =
      `Task #${t.id} · ${t.asset_name || "asset " + t.asset} · ${what} · ${t.state.replace("_", " ")}`;
    this.renderCounts();
  }

  renderCounts() {
    const c = countShapes(this.editor.doc);
    const parts = [`${c.boxes} box${c.boxes === 1 ? "" : "es"}`];
    if (this.editor.schema.keypoints)
      parts.push(`${c.skeletons} skeleton${c.skeletons === 1 ? "" : "s"}`);
    if (this.editor.useTracks) parts.push(`${c.tracks} track${c.tracks === 1 ? "" : "s"}`);
    $("counts").textContent = parts.join(" · ");
    $("counts").dataset.boxes = String(c.boxes);
    $("counts").dataset.skeletons = String(c.skeletons);
  }

  /** review: the payload's last review ({decision, reviewer, version, comment}) or null. */
  renderReviewComment(review) {
    const panel = $("review-comment");
    if (!review || review.decision !== "reject") {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    panel.querySelector(".who").textContent =
      `Sent back by ${review.reviewer ?? "a reviewer"} (version ${review.version ?? "?"})`;
    panel.querySelector(".text").textContent = review.comment;
    if (this.mode === "label") {
      this.notices.banner(
        "review",
        "warn",
        `Sent back by ${review.reviewer ?? "a reviewer"}: ${review.comment}`,
      );
    }
  }

  renderShortcutsTable() {
    renderShortcuts($("shortcut-table"), this.editor.schema.classes);
  }

  /** The server refused the shapes: mark them on the image and list the problems. */
  showErrors(errors, detail = "") {
    const rows = this.editor.setErrors(errors);
    const list = $("error-list");
    list.replaceChildren();
    if (!rows.length) {
      $("errors-panel").hidden = true;
      return;
    }
    const several = this.editor.frames.length > 1;
    for (const { path, message, field, kind, where, selection } of rows) {
      const li = document.createElement("li");
      li.dataset.path = path;
      const place = where
        ? `${kind}${where.track != null ? ` of track ${where.track}` : ""}${several ? ` on frame ${where.frame + 1}` : ""}`
        : path;
      li.textContent = `${place}${field && where ? ` (${field})` : ""}: ${message}`;
      if (where) li.addEventListener("click", () => this.goTo(where.frame, selection));
      list.append(li);
    }
    $("errors-panel").hidden = false;
    if (detail) this.notices.banner("invalid", "error", detail);
  }

  renderSelection() {
    const editor = this.editor;
    const panel = $("selection-panel");
    const item = editor.selectedItem();
    const track = editor.selection?.track;
    const absent = !item && track != null && editor.doc.tracks[track];
    if (!item && !absent) {
      panel.hidden = !editor.placing;
      if (!editor.placing) return;
    }
    panel.hidden = false;
    const info = $("selection-info");
    const list = $("keypoint-list");
    list.replaceChildren();
    $("attribute-list").replaceChildren();
    if (absent) {
      const why = presence(editor.doc, track, editor.frame, editor.index()).reason;
      info.textContent = `${editor.doc.tracks[track].label} · track ${track} · not on this frame (${why})`;
      return;
    }
    if (!item) {
      info.textContent = "Placing a skeleton…";
      return;
    }
    const where = item.held
      ? " · held (after its last keyframe)"
      : item.interpolated
        ? " · interpolated"
        : item.track != null
          ? " · keyframe"
          : "";
    const trackText = item.track != null ? ` · track ${item.track}` : "";
    this.renderAttributes(item);
    if (item.type === "box") {
      const b = item.value;
      info.textContent = `${item.label}${trackText}${where} · ${Math.round(b.x)}, ${Math.round(b.y)} · ${Math.round(b.w)}×${Math.round(b.h)}`;
      return;
    }
    info.textContent = `${item.label} skeleton${trackText}${where}`;
    const next =
      editor.placing && item.keyframe?.id === editor.placing.shapeId
        ? editor.nextPointName()
        : null;
    for (const { name, side } of editor.schema.skeleton.keypoints) {
      list.append(this.pointRow(item, name, side, next));
    }
  }

  /** The selected shape's occluded flag and its class's attributes, each with its key. */
  renderAttributes(item) {
    const list = $("attribute-list");
    const editable = this.editor.editable;
    const row = (key, name, control) => {
      const li = document.createElement("li");
      li.dataset.attribute = name;
      const label = document.createElement("label");
      const kbd = document.createElement("kbd");
      kbd.textContent = key;
      const text = document.createElement("span");
      text.className = "name";
      text.textContent = name;
      control.disabled = !editable;
      control.setAttribute("aria-label", name);
      label.append(kbd, text, control);
      li.append(label);
      list.append(li);
    };
    const occluded = document.createElement("input");
    occluded.type = "checkbox";
    occluded.checked = Boolean(item.value.occluded);
    occluded.addEventListener("change", () => this.setOccluded(item, occluded.checked));
    row("q", "occluded", occluded);
    specsOf(this.editor.schema, item.label).forEach((spec, i) => {
      const value = valueOf(item.value, spec);
      let control;
      if (spec.input === "checkbox") {
        control = document.createElement("input");
        control.type = "checkbox";
        control.checked = Boolean(value);
        control.addEventListener("change", () => this.setAttribute(item, spec, control.checked));
      } else if (spec.input === "select") {
        control = document.createElement("select");
        for (const v of spec.values) {
          const option = document.createElement("option");
          option.value = v;
          option.textContent = v;
          option.selected = v === value;
          control.append(option);
        }
        control.addEventListener("change", () => this.setAttribute(item, spec, control.value));
      } else {
        control = document.createElement("input");
        control.type = spec.input === "number" ? "number" : "text";
        if (spec.input === "number") {
          Object.assign(control, { min: spec.min, max: spec.max, step: spec.step });
        }
        control.value = String(value);
        control.addEventListener("change", () => {
          const next = spec.input === "number" ? parseNumber(spec, control.value) : control.value;
          if (next === null) {
            control.setCustomValidity(`From ${spec.min} to ${spec.max}, in steps of ${spec.step}.`);
            control.reportValidity();
            return;
          }
          control.setCustomValidity("");
          this.setAttribute(item, spec, next);
        });
        // Enter or Escape gives the keys back to the image.
        control.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === "Escape") {
            control.blur();
            $("stage").focus({ preventScroll: true });
          }
        });
      }
      if (!spec.mutable) control.dataset.immutable = "true";
      row(i < 9 ? `Shift+${i + 1}` : "", spec.name, control);
    });
  }

  pointRow(item, name, side, next) {
    const p = item.value.points[name] || [0, 0, 0];
    const li = document.createElement("li");
    li.dataset.point = name;
    if (name === next) li.classList.add("next");
    if (name === this.editor.selectedPoint) li.classList.add("selected");
    const dot = document.createElement("span");
    dot.className = "side";
    dot.style.background = SIDE_COLORS[side];
    dot.title = side;
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    label.addEventListener("click", () => this.editor.selectPoint(name));
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Visibility of ${name}`);
    select.disabled = !this.editor.editable;
    for (const v of [2, 1, 0]) {
      const option = document.createElement("option");
      option.value = String(v);
      option.textContent = `${v} ${VISIBILITY_LABELS[v]}`;
      option.selected = p[2] === v;
      select.append(option);
    }
    select.addEventListener("change", () => this.setVisibility(item, name, Number(select.value)));
    li.append(dot, label, select);
    return li;
  }
}
