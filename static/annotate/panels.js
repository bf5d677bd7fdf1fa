// The labeling page's side panels, toolbar texts and banners: methods of LabelApp
// (label.js), kept here so that file stays about loading, state and drawing.

import { SIDE_COLORS } from "./canvas.js";
import { countShapes, keyframesOf, trackList } from "./model.js";
import { renderShortcuts } from "./shortcuts.js";
import { $, url } from "./dom.js";

const VISIBILITY_LABELS = { 2: "visible", 1: "occluded", 0: "not labeled" };

export const panelsMethods = {
  showEmpty(text) {
    const empty = $("empty");
    empty.textContent = text;
    empty.hidden = false;
    this.setState("empty");
  },

  renderTaskInfo() {
    const t = this.task;
    const what = t.kind === "video" ? `video frames ${t.frame_start}–${t.frame_end}` : "image";
    $("task-info").textContent =
      `Task #${t.id} · ${t.asset_name || "asset " + t.asset} · ${what} · ${t.state.replace("_", " ")}`;
    this.renderCounts();
  },

  renderCounts() {
    const c = countShapes(this.doc);
    const parts = [`${c.boxes} box${c.boxes === 1 ? "" : "es"}`];
    if (this.schema.keypoints) parts.push(`${c.skeletons} skeleton${c.skeletons === 1 ? "" : "s"}`);
    if (this.useTracks) parts.push(`${c.tracks} track${c.tracks === 1 ? "" : "s"}`);
    $("counts").textContent = parts.join(" · ");
    $("counts").dataset.boxes = String(c.boxes);
    $("counts").dataset.skeletons = String(c.skeletons);
  },

  renderReviewComment() {
    const review = this.data.review;
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
      this.banner(
        "review",
        "warn",
        `Sent back by ${review.reviewer ?? "a reviewer"}: ${review.comment}`,
      );
    }
  },

  status(kind, text) {
    const el = $("save-status");
    el.dataset.kind = kind;
    el.textContent = text;
    el.title = text;
  },

  banner(id, kind, text, actions = []) {
    this.hideBanner(id);
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
    close.addEventListener("click", () => this.hideBanner(id));
    el.append(close);
    $("banners").append(el);
    this.banners[id] = el;
  },

  hideBanner(id) {
    this.banners?.[id]?.remove();
    if (this.banners) delete this.banners[id];
  },

  showAuthBanner() {
    const next = encodeURIComponent(url(this.config.urls.label_page, this.task?.id ?? ""));
    this.banner(
      "auth",
      "error",
      "Your session expired. Your work is kept in this browser; log in again (new tab) and saving resumes by itself.",
      [{ label: "Log in again", href: `${this.config.urls.login}?next=${next}` }],
    );
  },

  showConflict(data) {
    const latest = data.latest_version;
    this.banner(
      "conflict",
      "error",
      `This task was saved elsewhere (version ${latest}), e.g. in another tab. Your work here is kept and not saved yet.`,
      [
        { label: "Load the saved version (undoable)", run: () => this.reloadFromServer() },
        { label: "Overwrite with my work", run: () => this.overwrite() },
      ],
    );
  },

  showLeaseLost(data) {
    this.banner(
      "lease",
      "error",
      `${data.detail || "Your hold on this task expired."} Your work is kept in this browser.`,
      [{ label: "Go to the next task", run: () => this.openNextTask() }],
    );
  },

  errorKeyOf(item) {
    return item.track != null
      ? `t:${item.type}:${item.track}@${this.frame}`
      : `s:${item.keyframe?.id}`;
  },

  setErrors(errors, detail = "") {
    this.errors.clear();
    const list = $("error-list");
    list.replaceChildren();
    if (!errors || !Object.keys(errors).length) {
      $("errors-panel").hidden = true;
      this.requestDraw();
      return;
    }
    for (const [path, messages] of Object.entries(errors)) {
      const base = path.match(/^(boxes|keypoints)\[\d+\]/)?.[0];
      const where = base ? this.lastWhere[base] : null;
      const field = base ? path.slice(base.length + 1) : path;
      if (where) {
        const key =
          where.track != null
            ? `t:${base.startsWith("boxes") ? "box" : "kp"}:${where.track}@${where.frame}`
            : `s:${where.shapeId}`;
        this.errors.set(key, [
          ...(this.errors.get(key) || []),
          ...messages.map((m) => (field ? `${field}: ${m}` : m)),
        ]);
      }
      for (const message of messages) {
        const li = document.createElement("li");
        li.dataset.path = path;
        const kind = base?.startsWith("boxes") ? "Box" : base ? "Skeleton" : "";
        const place = where
          ? `${kind}${where.track != null ? ` of track ${where.track}` : ""}${this.frames.length > 1 ? ` on frame ${where.frame + 1}` : ""}`
          : path;
        li.textContent = `${place}${field && where ? ` (${field})` : ""}: ${message}`;
        if (where) {
          li.addEventListener("click", () => {
            this.setFrame(where.frame);
            this.selection =
              where.track != null
                ? { track: where.track, type: base.startsWith("boxes") ? "box" : "kp" }
                : { id: where.shapeId };
            this.afterSelection();
          });
        }
        list.append(li);
      }
    }
    $("errors-panel").hidden = false;
    if (detail) this.banner("invalid", "error", detail);
    this.requestDraw();
  },

  renderPalette() {
    const palette = $("palette");
    palette.replaceChildren();
    for (const cls of this.schema.classes) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.label = cls.name;
      button.setAttribute("aria-pressed", String(cls.name === this.currentLabel));
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = /^#[0-9a-fA-F]{6}$/.test(cls.color) ? cls.color : "#888888";
      button.append(swatch, cls.name);
      if (cls.hotkey) {
        const kbd = document.createElement("kbd");
        kbd.textContent = cls.hotkey;
        button.append(" ", kbd);
      }
      button.addEventListener("click", () => this.chooseClass(cls.name));
      palette.append(button);
    }
  },

  renderShortcutsTable() {
    renderShortcuts($("shortcut-table"), this.schema.classes);
  },

  renderHint() {
    const hint = $("hint");
    hint.replaceChildren();
    if (this.shapesHidden) {
      hint.textContent = "Shapes hidden: press h to show them";
    } else if (this.tool === "kp") {
      const name = this.nextPointName();
      hint.append("Next point: ");
      const strong = document.createElement("strong");
      strong.id = "next-point";
      strong.textContent = name ?? "—";
      hint.append(strong, " · Shift+click = occluded · n = skip · Esc = done");
    } else if (this.tool === "box") {
      hint.textContent = `Drag to draw a ${this.currentLabel ?? ""} box`;
    } else {
      hint.textContent = this.editable
        ? "Click to select; drag to move; handles resize; drag empty space to pan"
        : "Read-only";
    }
  },

  renderSelection() {
    const panel = $("selection-panel");
    const item = this.selectedItem();
    if (!item) {
      panel.hidden = !this.placing;
      if (!this.placing) return;
    }
    panel.hidden = false;
    const info = $("selection-info");
    const list = $("keypoint-list");
    list.replaceChildren();
    if (!item) {
      info.textContent = "Placing a skeleton…";
      return;
    }
    const where = item.interpolated ? " · interpolated" : item.track != null ? " · keyframe" : "";
    if (item.type === "box") {
      const b = item.value;
      info.textContent = `${item.label}${item.track != null ? ` · track ${item.track}` : ""}${where} · ${Math.round(b.x)}, ${Math.round(b.y)} · ${Math.round(b.w)}×${Math.round(b.h)}`;
      return;
    }
    info.textContent = `${item.label} skeleton${item.track != null ? ` · track ${item.track}` : ""}${where}`;
    const next =
      this.placing && item.keyframe?.id === this.placing.shapeId ? this.nextPointName() : null;
    for (const { name, side } of this.schema.skeleton.keypoints) {
      const p = item.value.points[name] || [0, 0, 0];
      const li = document.createElement("li");
      li.dataset.point = name;
      if (name === next) li.classList.add("next");
      if (name === this.selectedPoint) li.classList.add("selected");
      const dot = document.createElement("span");
      dot.className = "side";
      dot.style.background = SIDE_COLORS[side];
      dot.title = side;
      const label = document.createElement("span");
      label.className = "name";
      label.textContent = name;
      label.addEventListener("click", () => {
        this.selectedPoint = name;
        this.afterSelection();
      });
      const select = document.createElement("select");
      select.setAttribute("aria-label", `Visibility of ${name}`);
      select.disabled = !this.editable;
      for (const v of [2, 1, 0]) {
        const option = document.createElement("option");
        option.value = String(v);
        option.textContent = `${v} ${VISIBILITY_LABELS[v]}`;
        option.selected = p[2] === v;
        select.append(option);
      }
      select.addEventListener("change", () => this.setVisibility(item, name, Number(select.value)));
      li.append(dot, label, select);
      list.append(li);
    }
  },

  renderKeyframeTicks() {
    const ticks = $("keyframe-ticks");
    if (!ticks) return;
    ticks.replaceChildren();
    const sel = this.selection;
    if (sel?.track == null || this.frames.length < 2) return;
    for (const frame of keyframesOf(this.doc, sel.track)) {
      const tick = document.createElement("span");
      tick.style.left = `${(frame / (this.frames.length - 1)) * 100}%`;
      tick.title = `keyframe on frame ${frame + 1}`;
      ticks.append(tick);
    }
  },

  renderTracks() {
    this.renderKeyframeTicks();
    if (!this.useTracks) return;
    const list = $("track-list");
    const checked = new Set(
      [...list.querySelectorAll("input:checked")].map((i) => Number(i.value)),
    );
    list.replaceChildren();
    const total = Math.max(1, this.frames.length - 1);
    for (const track of trackList(this.doc)) {
      const li = document.createElement("li");
      li.dataset.track = String(track.number);
      if (this.selection?.track === track.number) li.classList.add("selected");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = String(track.number);
      box.checked = checked.has(track.number);
      box.setAttribute("aria-label", `Check track ${track.number}`);
      box.addEventListener("click", (e) => e.stopPropagation());
      const name = document.createElement("span");
      const kinds = [...track.types].map((t) => (t === "box" ? "box" : "skeleton")).join("+");
      name.textContent = `#${track.number} ${track.label} (${kinds})`;
      const extent = document.createElement("span");
      extent.className = "muted small";
      extent.textContent = `frames ${track.start + 1}–${track.end + 1} · ${track.keyframes} key`;
      const bar = document.createElement("div");
      bar.className = "extent";
      const fill = document.createElement("span");
      fill.style.left = `${(track.start / total) * 100}%`;
      fill.style.width = `${Math.max(1.5, ((track.end - track.start) / total) * 100)}%`;
      fill.style.background = this.colors[track.label] || "#888";
      bar.append(fill);
      li.append(box, name, extent, bar);
      li.addEventListener("click", () => {
        const type = track.types.has("box") ? "box" : "kp";
        this.selection = { track: track.number, type };
        if (this.frame < track.start || this.frame > track.end) this.setFrame(track.start);
        this.afterSelection();
      });
      list.append(li);
    }
  },
};
