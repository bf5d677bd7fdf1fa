// The labeling page (and the review page, read-only): loads a task through the API, lets the
// annotator draw boxes, skeletons and tracks, autosaves drafts and moves through the queue.
// Pure logic lives in geometry.js, interpolate.js, undo.js and model.js.

import {
  DraftSaver,
  clearLocalDraft,
  isAuthProblem,
  loadLocalDraft,
  pruneLocalDrafts,
  request,
} from "./api.js";
import { Renderer, SIDE_COLORS } from "./canvas.js";
import { FrameCache } from "./frames.js";
import {
  boxFromCorners,
  distance,
  fitView,
  handleAt,
  moveBox,
  resizeBox,
  toImage,
  topmostBoxAt,
  zoomAt,
} from "./geometry.js";
import {
  addShape,
  cloneDoc,
  copyToFrame,
  countShapes,
  deleteTrack,
  emptyDoc,
  extendTrack,
  fromPayload,
  keyframesOf,
  materialize,
  mergeTracks,
  newTrack,
  removeShape,
  setLabel,
  shapesAt,
  splitTrack,
  toPayload,
  trackGroups,
  trackList,
} from "./model.js";
import { actionFor, renderShortcuts } from "./shortcuts.js";
import { UndoStack } from "./undo.js";

const $ = (id) => document.getElementById(id);
const url = (template, id) => template.replace("{id}", String(id));
const HEARTBEAT_MS = 60_000;
const POINT_TOLERANCE_PX = 8;
const HANDLE_TOLERANCE_PX = 6;
const VISIBILITY_LABELS = { 2: "visible", 1: "occluded", 0: "not labeled" };

function canonical(payload) {
  // Order-free comparison of two payloads (the server keeps insertion order, we may not).
  const sortJson = (list) => (list || []).map((x) => JSON.stringify(x)).sort();
  return JSON.stringify([sortJson(payload.tracks), sortJson(payload.boxes), sortJson(payload.keypoints)]);
}

class LabelApp {
  constructor(config) {
    this.config = config;
    this.mode = config.mode;
    this.root = $("labeler");
    this.stage = $("stage");
    this.renderer = new Renderer(this.stage, $("image-layer"), $("shape-layer"));
    this.undo = new UndoStack();
    this.doc = emptyDoc();
    this.frame = 0;
    this.tool = "select";
    this.selection = null; // {id} for an untracked shape, {track, type} for a tracked one
    this.selectedPoint = null;
    this.placing = null; // {shapeId, track, type} of the skeleton being placed
    this.errors = new Map(); // error key -> [messages]
    this.lastWhere = {};
    this.view = { scale: 1, x: 0, y: 0 };
    this.drag = null;
    this.drawPending = false;
    this.imageDirty = true;
    this.itemsCache = null;
    this.playing = null;
    this.prefetched = null; // {task, payload} of the next task, held while this one is labeled
    this.stats = { frameChangeMs: [], readyMs: null, draws: 0, loads: 0 };
    window.labelApp = this;
  }

  // -- start and task loading -----------------------------------------------------------

  async start() {
    pruneLocalDrafts();
    this.bindUi();
    this.renderer.resize();
    new ResizeObserver(() => {
      this.renderer.resize();
      this.imageDirty = true;
      this.requestDraw();
    }).observe(this.stage);
    const embedded = $("label-task");
    if (this.config.task && embedded) {
      // The server put the task into the page: no round trip before the image loads.
      await this.openTask(this.config.task, JSON.parse(embedded.textContent));
      embedded.remove(); // later openings ask the API for fresh data
    } else if (this.config.task) await this.openTask(this.config.task);
    else await this.openNextTask();
  }

  setState(state) {
    this.root.dataset.state = state;
  }

  showEmpty(text) {
    const empty = $("empty");
    empty.textContent = text;
    empty.hidden = false;
    this.setState("empty");
  }

  async openNextTask() {
    if (this.prefetched) {
      const next = this.prefetched;
      this.prefetched = null;
      return this.openTask(next.task.id, next.payload);
    }
    const result = await this.safeRequest("POST", this.config.urls.next, { exclude: [] });
    if (!result) return;
    if (result.status === 404) {
      this.showEmpty("The task queue is not available yet.");
      return;
    }
    if (!result.ok) {
      this.showEmpty(result.data.detail || `Could not get a task (HTTP ${result.status}).`);
      return;
    }
    if (!result.data.task) {
      this.showEmpty(result.data.detail || "No tasks left in this project.");
      return;
    }
    return this.openTask(result.data.task.id);
  }

  async safeRequest(method, address, body) {
    try {
      const result = await request(method, address, body);
      if (isAuthProblem(result)) this.showAuthBanner();
      return result;
    } catch (err) {
      this.banner("network", "error", `Network problem: ${err.message}. Retry in a moment.`);
      return null;
    }
  }

  async openTask(taskId, payload = null) {
    this.setState("loading");
    $("empty").hidden = true;
    if (!payload) {
      const result = await this.safeRequest("GET", url(this.config.urls.payload, taskId));
      if (!result) return;
      if (!result.ok) {
        this.showEmpty(result.data.detail || `Could not open task ${taskId} (HTTP ${result.status}).`);
        return;
      }
      payload = result.data;
    }
    this.teardownTask();
    this.data = payload;
    this.task = payload.task;
    this.schema = payload.schema;
    this.frames = payload.media.frames;
    this.editable = this.mode === "label" && payload.task.editable;
    this.colors = Object.fromEntries(this.schema.classes.map((c) => [c.name, c.color]));
    this.hotkeys = Object.fromEntries(
      this.schema.classes.filter((c) => c.hotkey).map((c) => [c.hotkey, c.name]),
    );
    this.sides = Object.fromEntries(this.schema.skeleton.keypoints.map((k) => [k.name, k.side]));
    this.currentLabel = this.schema.classes[0]?.name ?? null;
    this.useTracks = this.task.kind === "video" && this.schema.tracks;
    this.frame = 0;
    this.selection = null;
    this.placing = null;
    this.errors.clear();
    this.undo.clear();
    this.banners = {};
    $("banners").replaceChildren();

    const server = payload.annotation;
    this.doc = fromPayload(server.payload, this.frames);
    let baseVersion = server.version;
    const local = this.mode === "label" ? loadLocalDraft(this.task.id) : null;
    if (local?.dirty && local.doc) {
      const localPayload = toPayload(local.doc, this.frames).payload;
      if (canonical(localPayload) !== canonical(toPayload(this.doc, this.frames).payload)) {
        this.doc = local.doc;
        baseVersion = local.baseVersion ?? null;
        this.banner(
          "restored",
          "info",
          "Restored changes that had not reached the server yet (kept in this browser).",
        );
      }
    }

    if (this.mode === "label" && window.location.pathname !== url(this.config.urls.label_page, this.task.id)) {
      history.replaceState({}, "", url(this.config.urls.label_page, this.task.id));
    }
    const preload = document.getElementById("preload-image");
    this.cache = new FrameCache(this.frames, {
      preloaded: preload ? new URL(preload.href).pathname : null,
    });
    this.renderPalette();
    this.renderShortcutsTable();
    this.renderTaskInfo();
    this.renderReviewComment();
    this.setTool(this.editable ? (this.schema.boxes ? "box" : "kp") : "select");
    $("timeline").hidden = this.frames.length <= 1;
    $("tracks-panel").hidden = !this.useTracks;
    const scrubber = $("scrubber");
    scrubber.max = String(Math.max(0, this.frames.length - 1));
    scrubber.value = "0";

    if (this.editable) {
      this.saver = new DraftSaver({
        taskId: this.task.id,
        url: url(this.config.urls.annotation, this.task.id),
        baseVersion,
        serialize: () => this.serialize(),
        snapshot: () => this.doc,
        hooks: this.saverHooks(),
      });
      if (baseVersion !== server.version || this.banners.restored) this.saver.markDirty();
      else this.status("saved", server.version ? `Saved · version ${server.version}` : "Nothing saved yet");
      this.heartbeat = setInterval(() => this.sendHeartbeat(), HEARTBEAT_MS);
      if (this.mode === "label") this.prefetchNextTask();
    } else {
      this.status("idle", this.mode === "review" ? "Read-only: review" : `Read-only: task is ${this.task.state.replace("_", " ")}`);
      if (this.mode === "label") {
        this.banner("locked", "warn", `This task is ${this.task.state.replace("_", " ")}: it cannot be changed unless a reviewer sends it back.`);
      }
    }
    this.setupReviewPanel();
    for (const button of this.root.querySelectorAll("[data-action=undo], [data-action=redo], #palette button, #tracks-panel button")) {
      button.disabled = !this.editable;
    }

    const first = this.frames[0];
    this.view = fitView(first.width, first.height, this.renderer.width, this.renderer.height);
    this.invalidate();
    await this.showFrame(0, { initial: true });
    this.stats.readyMs = performance.now();
    this.stats.loads += 1;
    this.setState("ready");
    document.documentElement.dataset.labelReady = String(this.stats.loads);
    this.stage.focus({ preventScroll: true });
  }

  teardownTask() {
    this.saver?.stop();
    this.saver = null;
    clearInterval(this.heartbeat);
    this.stopPlaying();
    this.cache?.dispose();
    this.cache = null;
  }

  renderTaskInfo() {
    const t = this.task;
    const what = t.kind === "video" ? `video frames ${t.frame_start}–${t.frame_end}` : "image";
    $("task-info").textContent = `Task #${t.id} · ${t.asset_name || "asset " + t.asset} · ${what} · ${t.state.replace("_", " ")}`;
    this.renderCounts();
  }

  renderCounts() {
    const c = countShapes(this.doc);
    const parts = [`${c.boxes} box${c.boxes === 1 ? "" : "es"}`];
    if (this.schema.keypoints) parts.push(`${c.skeletons} skeleton${c.skeletons === 1 ? "" : "s"}`);
    if (this.useTracks) parts.push(`${c.tracks} track${c.tracks === 1 ? "" : "s"}`);
    $("counts").textContent = parts.join(" · ");
    $("counts").dataset.boxes = String(c.boxes);
    $("counts").dataset.skeletons = String(c.skeletons);
  }

  renderReviewComment() {
    const review = this.data.review;
    const panel = $("review-comment");
    if (!review || review.decision !== "reject") {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    panel.querySelector(".who").textContent = `Sent back by ${review.reviewer ?? "a reviewer"} (version ${review.version ?? "?"})`;
    panel.querySelector(".text").textContent = review.comment;
    if (this.mode === "label") {
      this.banner("review", "warn", `Sent back by ${review.reviewer ?? "a reviewer"}: ${review.comment}`);
    }
  }

  // -- the saver's hooks and the banners ------------------------------------------------

  saverHooks() {
    return {
      status: (kind, text) => this.status(kind, text),
      saved: () => {
        this.hideBanner("conflict");
        this.hideBanner("auth");
        this.hideBanner("schema");
        this.setErrors(null);
      },
      invalid: (data) => this.setErrors(data.errors || {}, data.detail),
      conflict: (data) => this.resolveConflict(data),
      schemaChanged: (data) => {
        this.setErrors(data.errors || {}, data.detail);
        this.banner("schema", "error", data.detail || "The label schema changed.", [
          { label: "Reload the schema (keep my shapes)", run: () => this.reloadSchema() },
        ]);
      },
      notEditable: (data) => {
        this.banner("locked", "error", data.detail || "This task can no longer be changed.");
      },
      auth: () => this.showAuthBanner(),
      leaseLost: (data) => this.showLeaseLost(data),
    };
  }

  status(kind, text) {
    const el = $("save-status");
    el.dataset.kind = kind;
    el.textContent = text;
    el.title = text;
  }

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
  }

  hideBanner(id) {
    this.banners?.[id]?.remove();
    if (this.banners) delete this.banners[id];
  }

  showAuthBanner() {
    const next = encodeURIComponent(url(this.config.urls.label_page, this.task?.id ?? ""));
    this.banner(
      "auth",
      "error",
      "Your session expired. Your work is kept in this browser; log in again (new tab) and saving resumes by itself.",
      [{ label: "Log in again", href: `${this.config.urls.login}?next=${next}` }],
    );
  }

  /** A newer version that holds exactly this work (this tab's own last-second save from an
   * earlier visit, say) is no conflict: adopt its number. Otherwise ask the annotator. */
  async resolveConflict(data) {
    const changes = this.saver.changeCount;
    try {
      const result = await request("GET", url(this.config.urls.annotation, this.task.id));
      const mine = canonical(toPayload(this.doc, this.frames).payload);
      if (result.ok && this.saver.changeCount === changes &&
          canonical(toPayload(fromPayload(result.data.payload, this.frames), this.frames).payload) === mine) {
        this.saver.adopt(result.data.version);
        return;
      }
    } catch {
      /* fall through to asking */
    }
    this.showConflict(data);
  }

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
  }

  showLeaseLost(data) {
    this.banner("lease", "error", `${data.detail || "Your hold on this task expired."} Your work is kept in this browser.`, [
      { label: "Go to the next task", run: () => this.openNextTask() },
    ]);
  }

  async reloadFromServer() {
    const result = await this.safeRequest("GET", url(this.config.urls.annotation, this.task.id));
    if (!result || !result.ok) return;
    this.change(() => {
      this.doc = fromPayload(result.data.payload, this.frames);
    }, { save: false });
    this.saver.baseVersion = result.data.version;
    this.saver.blocked = null;
    this.saver.dirty = false;
    this.hideBanner("conflict");
    this.status("saved", `Loaded version ${result.data.version}`);
  }

  async overwrite() {
    this.saver.blocked = null;
    this.saver.dirty = true;
    const ok = await this.saver.save({ force: true });
    if (ok) this.hideBanner("conflict");
  }

  async reloadSchema() {
    const result = await this.safeRequest("GET", url(this.config.urls.payload, this.task.id));
    if (!result || !result.ok) return;
    this.schema = result.data.schema;
    this.colors = Object.fromEntries(this.schema.classes.map((c) => [c.name, c.color]));
    this.hotkeys = Object.fromEntries(this.schema.classes.filter((c) => c.hotkey).map((c) => [c.hotkey, c.name]));
    if (!this.colors[this.currentLabel]) this.currentLabel = this.schema.classes[0]?.name ?? null;
    this.renderPalette();
    this.hideBanner("schema");
    const known = new Set(this.schema.classes.map((c) => c.name));
    const stale = this.doc.shapes.filter((shape) => !known.has(shape.label)).length;
    if (stale) {
      this.saver.blocked = "invalid"; // released by the next change
      this.status("blocked", `Schema reloaded: ${stale} shape(s) use a removed class; give them another class and saving resumes.`);
    } else {
      this.saver.blocked = null;
      this.saver.dirty = true;
      this.saver.save();
    }
    this.requestDraw();
  }

  // -- errors next to the shapes --------------------------------------------------------

  errorKeyOf(item) {
    return item.track != null ? `t:${item.type}:${item.track}@${this.frame}` : `s:${item.keyframe?.id}`;
  }

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
        const key = where.track != null
          ? `t:${base.startsWith("boxes") ? "box" : "kp"}:${where.track}@${where.frame}`
          : `s:${where.shapeId}`;
        this.errors.set(key, [...(this.errors.get(key) || []), ...messages.map((m) => (field ? `${field}: ${m}` : m))]);
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
            this.selection = where.track != null
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
  }

  // -- document changes -----------------------------------------------------------------

  serialize() {
    const { payload, where } = toPayload(this.doc, this.frames);
    this.lastWhere = where;
    return { payload, where };
  }

  invalidate() {
    this.itemsCache = null;
  }

  /** Every edit goes through here: undo snapshot, redraw, autosave. */
  change(fn, { save = true, snapshot = null } = {}) {
    const before = snapshot ?? cloneDoc(this.doc);
    fn();
    this.undo.push(before);
    this.afterDocChange(save);
  }

  afterDocChange(save = true) {
    this.invalidate();
    if (save && this.saver) this.saver.markDirty();
    this.renderCounts();
    this.renderTracks();
    this.renderSelection();
    this.requestDraw();
  }

  doUndo() {
    const previous = this.undo.undo(cloneDoc(this.doc));
    if (!previous) return;
    this.doc = previous;
    this.placing = null;
    this.afterDocChange();
  }

  doRedo() {
    const next = this.undo.redo(cloneDoc(this.doc));
    if (!next) return;
    this.doc = next;
    this.afterDocChange();
  }

  items() {
    if (!this.itemsCache) this.itemsCache = shapesAt(this.doc, this.frame, trackGroups(this.doc));
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

  selectItem(item, point = null) {
    this.selection = item ? (item.track != null ? { track: item.track, type: item.type } : { id: item.keyframe.id }) : null;
    this.selectedPoint = point;
    this.afterSelection();
  }

  afterSelection() {
    this.renderSelection();
    this.renderTracks();
    this.requestDraw();
  }

  // -- frames ---------------------------------------------------------------------------

  get imageSize() {
    const f = this.frames[this.frame];
    return { width: f.width, height: f.height };
  }

  async showFrame(position, { initial = false } = {}) {
    const started = performance.now();
    this.frame = position;
    this.invalidate();
    $("scrubber").value = String(position);
    const f = this.frames[position];
    $("frame-label").textContent = `Frame ${position + 1} / ${this.frames.length}${f.index != null && this.task.kind === "video" ? ` · source #${f.index}` : ""}`;
    let bitmap = this.cache.peek(position);
    if (!bitmap) {
      try {
        bitmap = await this.cache.get(position);
      } catch (err) {
        this.banner("image", "error", `The image could not be loaded (${err.message}); shapes are still editable.`);
      }
      if (this.frame !== position) return; // the user moved on meanwhile
    }
    this.bitmap = bitmap;
    this.imageDirty = true;
    this.drawNow();
    this.renderTracks();
    this.renderSelection();
    this.cache.prefetch(position);
    if (!initial) {
      await new Promise((resolve) => requestAnimationFrame(resolve));
      this.stats.frameChangeMs.push(performance.now() - started);
    }
  }

  setFrame(position) {
    const target = Math.max(0, Math.min(this.frames.length - 1, position));
    if (target === this.frame) return Promise.resolve();
    this.placing = null;
    this.saver?.save(); // autosave on frame change
    return this.showFrame(target);
  }

  togglePlay() {
    if (this.playing) return this.stopPlaying();
    const fps = Math.min(25, Math.max(2, (this.data.media.fps || 10) / 2));
    $("play-button").textContent = "Pause";
    this.playing = setInterval(() => {
      if (this.frame >= this.frames.length - 1) this.stopPlaying();
      else this.setFrame(this.frame + 1);
    }, 1000 / fps);
  }

  stopPlaying() {
    clearInterval(this.playing);
    this.playing = null;
    const button = $("play-button");
    if (button) button.textContent = "Play";
  }

  // -- drawing --------------------------------------------------------------------------

  requestDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.drawNow();
    });
  }

  drawNow() {
    if (!this.frames) return;
    const { width, height } = this.imageSize;
    if (this.imageDirty) {
      this.renderer.drawImage(this.bitmap, this.view, width, height);
      this.imageDirty = false;
    }
    this.renderer.drawShapes(this.items(), this.view, {
      colors: this.colors,
      skeleton: this.schema.skeleton,
      sides: this.sides,
      isSelected: (item) => this.isSelected(item),
      selectedPoint: this.selectedPoint,
      errors: this.errors,
      errorKey: (item) => this.errorKeyOf(item),
      editable: this.editable,
      draft: this.drag?.kind === "draw" ? this.drag.box : null,
      currentLabel: this.currentLabel,
    });
    this.stats.draws += 1;
  }

  setView(view) {
    this.view = view;
    this.imageDirty = true;
    this.requestDraw();
  }

  fit() {
    const { width, height } = this.imageSize;
    this.setView(fitView(width, height, this.renderer.width, this.renderer.height));
  }

  // -- UI: palette, tools, panels -------------------------------------------------------

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
  }

  renderShortcutsTable() {
    renderShortcuts($("shortcut-table"), this.schema.classes);
  }

  chooseClass(label) {
    this.currentLabel = label;
    for (const b of $("palette").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.label === label));
    }
    const item = this.selectedItem();
    if (item && this.editable && item.label !== label) {
      this.change(() => setLabel(this.doc, item, label));
    }
  }

  setTool(tool) {
    if (!this.editable && tool !== "select") tool = "select";
    if (tool === "box" && !this.schema.boxes) return;
    if (tool === "kp" && !this.schema.keypoints) return;
    if (tool !== "kp") this.placing = null;
    this.tool = tool;
    this.stage.dataset.tool = tool;
    for (const b of $("tools").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
      const enabled = b.dataset.tool === "select" ||
        (this.editable && (b.dataset.tool === "box" ? this.schema.boxes : this.schema.keypoints));
      b.disabled = !enabled;
    }
    this.renderHint();
  }

  nextPointName() {
    if (!this.placing) return this.schema.skeleton.keypoints[0]?.name ?? null;
    return this.schema.skeleton.keypoints[this.placing.index]?.name ?? null;
  }

  renderHint() {
    const hint = $("hint");
    hint.replaceChildren();
    if (this.tool === "kp") {
      const name = this.nextPointName();
      hint.append("Next point: ");
      const strong = document.createElement("strong");
      strong.id = "next-point";
      strong.textContent = name ?? "—";
      hint.append(strong, " · Shift+click = occluded · n = skip · Esc = done");
    } else if (this.tool === "box") {
      hint.textContent = `Drag to draw a ${this.currentLabel ?? ""} box`;
    } else {
      hint.textContent = this.editable ? "Click to select; drag to move; handles resize; drag empty space to pan" : "Read-only";
    }
  }

  renderSelection() {
    const panel = $("selection-panel");
    const item = this.selectedItem();
    if (!item) {
      panel.hidden = !(this.placing);
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
    const next = this.placing && item.keyframe?.id === this.placing.shapeId ? this.nextPointName() : null;
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
  }

  setVisibility(item, name, v) {
    const snapshot = cloneDoc(this.doc);
    const shape = materialize(this.doc, item);
    const p = shape.points[name] || [0, 0, 0];
    if (p[2] === 0 && v > 0) {
      // Not placed yet: the next click places it with that visibility.
      this.placing = { shapeId: shape.id, index: this.schema.skeleton.keypoints.findIndex((k) => k.name === name), visibility: v, only: true };
      this.setTool("kp");
      this.afterDocChange(false);
      return;
    }
    this.change(() => {
      shape.points[name] = v === 0 ? [0, 0, 0] : [p[0], p[1], v];
    }, { snapshot });
  }

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
  }

  renderTracks() {
    this.renderKeyframeTicks();
    if (!this.useTracks) return;
    const list = $("track-list");
    const checked = new Set([...list.querySelectorAll("input:checked")].map((i) => Number(i.value)));
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
  }

  // -- tools: pointer handling ----------------------------------------------------------

  pointer(event) {
    const rect = this.stage.getBoundingClientRect();
    const sx = event.clientX - rect.left;
    const sy = event.clientY - rect.top;
    const [ix, iy] = toImage(this.view, sx, sy);
    return { sx, sy, ix, iy };
  }

  hitTest(p) {
    const tolPoint = POINT_TOLERANCE_PX / this.view.scale;
    const items = this.items();
    const selected = this.selectedItem();
    // Points first (the selected skeleton's before others), then the selected box's handles.
    const skeletons = items.filter((i) => i.type === "kp");
    if (selected?.type === "kp") skeletons.unshift(selected);
    for (const item of skeletons) {
      for (const [name, pt] of Object.entries(item.value.points)) {
        if (pt[2] > 0 && distance(pt[0], pt[1], p.ix, p.iy) <= tolPoint) return { item, point: name };
      }
    }
    if (selected?.type === "box" && this.editable) {
      const handle = handleAt(selected.value, p.ix, p.iy, HANDLE_TOLERANCE_PX / this.view.scale);
      if (handle) return { item: selected, handle };
    }
    const boxes = items.filter((i) => i.type === "box").map((item) => ({ item, box: item.value }));
    const hit = topmostBoxAt(boxes, p.ix, p.iy, 2 / this.view.scale);
    return hit ? { item: hit.item } : null;
  }

  onPointerDown(event) {
    if (!this.frames) return;
    this.stage.focus({ preventScroll: true });
    const p = this.pointer(event);
    this.stage.setPointerCapture(event.pointerId);
    if (event.button === 1 || (event.button === 0 && event.altKey)) {
      this.drag = { kind: "pan", start: p, view: { ...this.view } };
      this.stage.classList.add("panning");
      return;
    }
    if (event.button !== 0) return;
    if (this.tool === "box") {
      this.drag = { kind: "draw", start: p, box: null };
      return;
    }
    if (this.tool === "kp") {
      this.placePoint(p, event.shiftKey);
      return;
    }
    const hit = this.hitTest(p);
    if (!hit) {
      this.selectItem(null);
      this.drag = { kind: "pan", start: p, view: { ...this.view } };
      this.stage.classList.add("panning");
      return;
    }
    this.selectItem(hit.item, hit.point ?? null);
    if (!this.editable) return;
    const snapshot = cloneDoc(this.doc);
    const shape = materialize(this.doc, hit.item);
    this.invalidate();
    const { width, height } = this.imageSize;
    if (hit.point) {
      this.drag = { kind: "point", shape, name: hit.point, snapshot, moved: false, width, height };
    } else if (hit.handle) {
      this.drag = { kind: "resize", shape, handle: hit.handle, snapshot, moved: false, width, height };
    } else {
      this.drag = { kind: "move", shape, start: p, origin: { ...shape }, snapshot, moved: false, width, height };
    }
  }

  onPointerMove(event) {
    const p = this.pointer(event);
    this.updateCursorHint(p);
    const drag = this.drag;
    if (!drag) return;
    if (drag.kind === "pan") {
      this.setView({ scale: drag.view.scale, x: drag.view.x + p.sx - drag.start.sx, y: drag.view.y + p.sy - drag.start.sy });
      return;
    }
    const { width, height } = this.imageSize;
    if (drag.kind === "draw") {
      drag.box = boxFromCorners(drag.start.ix, drag.start.iy, p.ix, p.iy, width, height);
    } else if (drag.kind === "move") {
      const moved = moveBox(drag.origin, p.ix - drag.start.ix, p.iy - drag.start.iy, width, height);
      Object.assign(drag.shape, moved);
      drag.moved = true;
    } else if (drag.kind === "resize") {
      Object.assign(drag.shape, resizeBox(drag.shape, drag.handle, p.ix, p.iy, width, height));
      drag.moved = true;
    } else if (drag.kind === "point") {
      const old = drag.shape.points[drag.name];
      drag.shape.points[drag.name] = [
        Math.min(Math.max(p.ix, 0), width), Math.min(Math.max(p.iy, 0), height), old[2],
      ];
      drag.moved = true;
    }
    this.requestDraw();
  }

  onPointerUp(event) {
    const drag = this.drag;
    this.drag = null;
    this.stage.classList.remove("panning");
    if (this.stage.hasPointerCapture?.(event.pointerId)) this.stage.releasePointerCapture(event.pointerId);
    if (!drag) return;
    if (drag.kind === "draw") {
      const box = drag.box;
      if (box && box.w * this.view.scale >= 3 && box.h * this.view.scale >= 3 && this.currentLabel) {
        this.change(() => {
          const track = this.useTracks ? newTrack(this.doc, this.currentLabel) : null;
          const shape = addShape(this.doc, { type: "box", frame: this.frame, label: this.currentLabel, track, ...box });
          this.selection = track != null ? { track, type: "box" } : { id: shape.id };
        });
      } else {
        // A click with the box tool selects what is under it.
        const hit = this.hitTest(this.pointer(event));
        this.selectItem(hit?.item ?? null);
      }
      this.requestDraw();
      return;
    }
    if (drag.snapshot) {
      if (drag.moved) this.change(() => {}, { snapshot: drag.snapshot });
      else if (!drag.shape || drag.snapshot.shapes.length !== this.doc.shapes.length) {
        // Materialized by the click but not moved: keep it (harmless), but make it undoable.
        this.change(() => {}, { snapshot: drag.snapshot });
      }
    }
    this.requestDraw();
  }

  placePoint(p, occluded) {
    const names = this.schema.skeleton.keypoints.map((k) => k.name);
    const { width, height } = this.imageSize;
    if (p.ix < 0 || p.iy < 0 || p.ix > width || p.iy > height) return;
    if (!this.currentLabel || !names.length) return;
    this.change(() => {
      let shape = this.placing ? this.doc.shapes.find((s) => s.id === this.placing.shapeId) : null;
      if (!shape) {
        const track = this.useTracks ? newTrack(this.doc, this.currentLabel) : null;
        const points = Object.fromEntries(names.map((n) => [n, [0, 0, 0]]));
        shape = addShape(this.doc, { type: "kp", frame: this.frame, label: this.currentLabel, track, points });
        this.placing = { shapeId: shape.id, index: 0 };
      }
      const name = names[this.placing.index];
      const v = this.placing.visibility ?? (occluded ? 1 : 2);
      shape.points[name] = [p.ix, p.iy, v];
      this.selection = shape.track != null ? { track: shape.track, type: "kp" } : { id: shape.id };
      this.selectedPoint = name;
      if (this.placing.only) this.placing = null;
      else this.advancePlacing();
    });
    this.renderHint();
  }

  advancePlacing() {
    const names = this.schema.skeleton.keypoints.map((k) => k.name);
    const shape = this.doc.shapes.find((s) => s.id === this.placing?.shapeId);
    if (!shape) return;
    let index = this.placing.index + 1;
    while (index < names.length && shape.points[names[index]]?.[2] > 0) index++;
    this.placing = index < names.length ? { shapeId: shape.id, index } : null;
  }

  skipPoint() {
    if (this.tool !== "kp") return;
    if (!this.placing) return;
    this.advancePlacing();
    this.renderHint();
    this.renderSelection();
  }

  finishSkeleton() {
    const shape = this.placing ? this.doc.shapes.find((s) => s.id === this.placing.shapeId) : null;
    this.placing = null;
    if (shape && !Object.values(shape.points).some((p) => p[2] > 0)) {
      this.change(() => removeShape(this.doc, shape.id));
    }
    this.renderHint();
  }

  updateCursorHint(p) {
    const hint = $("cursor-hint");
    if (this.tool !== "kp") {
      hint.hidden = true;
      return;
    }
    hint.hidden = false;
    hint.textContent = this.nextPointName() ?? "";
    hint.style.left = `${p.sx + 14}px`;
    hint.style.top = `${p.sy + 10}px`;
  }

  onWheel(event) {
    event.preventDefault();
    const p = this.pointer(event);
    this.setView(zoomAt(this.view, Math.exp(-event.deltaY * 0.0015), p.sx, p.sy));
  }

  // -- actions ----------------------------------------------------------------------------

  run(action, extra = {}) {
    const editing = this.editable;
    const item = this.selectedItem();
    switch (action) {
      case "tool-select":
        if (this.placing) this.finishSkeleton();
        return this.setTool("select");
      case "tool-box": return this.setTool("box");
      case "tool-keypoints": return this.setTool("kp");
      case "skip-point": return this.skipPoint();
      case "cycle-visibility":
        if (editing && item?.type === "kp" && this.selectedPoint) {
          const v = item.value.points[this.selectedPoint]?.[2] ?? 0;
          return this.setVisibility(item, this.selectedPoint, v === 2 ? 1 : v === 1 ? 0 : 2);
        }
        return;
      case "delete":
        if (!editing || !item) return;
        return this.change(() => {
          if (item.keyframe) removeShape(this.doc, item.keyframe.id);
          else deleteTrack(this.doc, item.track); // an interpolated frame: the whole track
          // A track that lives on (now interpolated here) stays selected.
          if (item.track == null || !this.doc.tracks[item.track]) this.selection = null;
          this.placing = null;
        });
      case "delete-track":
        if (!editing || !item) return;
        return this.change(() => {
          if (item.track != null) deleteTrack(this.doc, item.track);
          else removeShape(this.doc, item.keyframe.id);
          this.selection = null;
        });
      case "undo": return editing && this.doUndo();
      case "redo": return editing && this.doRedo();
      case "next-frame": return this.setFrame(this.frame + 1);
      case "prev-frame": return this.setFrame(this.frame - 1);
      case "play": return this.togglePlay();
      case "copy-next":
        if (!editing || !item || this.frame >= this.frames.length - 1) return;
        this.change(() => copyToFrame(this.doc, item, this.frame + 1));
        return this.setFrame(this.frame + 1);
      case "extend-track": {
        const sel = this.selection;
        if (!editing || sel?.track == null || item) return;
        return this.change(() => extendTrack(this.doc, sel.track, sel.type, this.frame));
      }
      case "split-track":
        if (!editing || item?.track == null) return;
        return this.change(() => {
          const created = splitTrack(this.doc, item.track, this.frame);
          if (created) this.selection = { track: created, type: item.type };
        });
      case "merge-tracks": {
        if (!editing) return;
        const numbers = [...$("track-list").querySelectorAll("input:checked")].map((i) => Number(i.value));
        if (numbers.length < 2) {
          this.banner("merge", "warn", "Check two or more tracks in the list to merge them.");
          return;
        }
        return this.change(() => {
          const target = mergeTracks(this.doc, numbers);
          for (const input of $("track-list").querySelectorAll("input:checked")) input.checked = false;
          this.selection = target ? { track: target, type: "box" } : null;
        });
      }
      case "fit": return this.fit();
      case "zoom-in": return this.setView(zoomAt(this.view, 1.25, this.renderer.width / 2, this.renderer.height / 2));
      case "zoom-out": return this.setView(zoomAt(this.view, 0.8, this.renderer.width / 2, this.renderer.height / 2));
      case "save": return this.saver?.save();
      case "submit": return this.submit();
      case "skip": return this.openSkip();
      case "help": {
        const overlay = $("shortcuts");
        overlay.hidden = !overlay.hidden;
        return;
      }
      case "class": return this.chooseClass(extra.label);
      default:
    }
  }

  onKey(event) {
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, dialog")) {
      if (!(target instanceof HTMLInputElement && target.type === "range")) return;
    }
    const match = actionFor(event, this.hotkeys || {});
    if (!match) return;
    if (!$("shortcuts").hidden && match.action !== "help") {
      if (event.key === "Escape") $("shortcuts").hidden = true;
      return;
    }
    event.preventDefault();
    this.run(match.action, match);
  }

  bindUi() {
    this.stage.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    this.stage.addEventListener("pointermove", (e) => this.onPointerMove(e));
    this.stage.addEventListener("pointerup", (e) => this.onPointerUp(e));
    this.stage.addEventListener("pointercancel", (e) => this.onPointerUp(e));
    this.stage.addEventListener("pointerleave", () => ($("cursor-hint").hidden = true));
    this.stage.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.stage.addEventListener("contextmenu", (e) => e.preventDefault());
    document.addEventListener("keydown", (e) => this.onKey(e));
    for (const button of this.root.querySelectorAll("[data-tool]")) {
      button.addEventListener("click", () => this.run({ select: "tool-select", box: "tool-box", kp: "tool-keypoints" }[button.dataset.tool]));
    }
    for (const button of this.root.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => this.run(button.dataset.action));
    }
    // After a toolbar click the keys belong to the image again (Space must not re-click).
    for (const button of this.root.querySelectorAll(".lb-toolbar button, .lb-timeline button")) {
      button.addEventListener("click", () => this.stage.focus({ preventScroll: true }));
    }
    $("scrubber").addEventListener("input", (e) => this.setFrame(Number(e.target.value)));
    $("shortcuts").addEventListener("click", (e) => {
      if (e.target === $("shortcuts")) $("shortcuts").hidden = true;
    });
    $("skip-cancel").addEventListener("click", () => $("skip-dialog").close());
    $("skip-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.skip();
    });
    window.addEventListener("pagehide", () => this.saver?.flushOnExit());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.saver?.save();
    });
    window.addEventListener("beforeunload", (e) => {
      if (this.saver?.dirty) {
        this.saver.flushOnExit();
        e.preventDefault();
      }
    });
  }

  // -- the queue: submit, skip, next, heartbeat -----------------------------------------

  async prefetchNextTask() {
    if (this.prefetched || !this.task) return;
    try {
      const result = await request("POST", this.config.urls.next, { exclude: [this.task.id] });
      if (!result.ok || !result.data.task || result.data.task.id === this.task.id) return;
      const payload = await request("GET", url(this.config.urls.payload, result.data.task.id));
      if (!payload.ok) return;
      this.prefetched = { task: result.data.task, payload: payload.data };
      // Decode its first image now, so the switch is instant.
      const first = payload.data.media.frames[0];
      if (first) fetch(first.url, { credentials: "same-origin" }).catch(() => {});
    } catch {
      /* the next task is then asked for after submit */
    }
  }

  async submit() {
    if (!this.editable || this.submitting) return;
    if (this.placing) this.finishSkeleton();
    this.submitting = true;
    try {
      if (this.saver.inFlight) await this.saver.inFlight;
      const { payload } = this.serialize();
      this.status("saving", "Submitting…");
      let result;
      try {
        result = await request("POST", url(this.config.urls.submit, this.task.id), {
          base_version: this.saver.baseVersion,
          force: false,
          payload,
        });
      } catch (err) {
        this.status("error", `Submit failed (network: ${err.message}); your work is kept. Try again.`);
        return;
      }
      if (result.status === 404 && !result.data.detail) {
        this.status("error", "Submitting is not available yet (the queue API is missing); your draft is saved.");
        return;
      }
      if (!result.ok) {
        this.saver.handleError(result, { retry: false });
        return;
      }
      this.saver.dirty = false;
      clearLocalDraft(this.task.id);
      this.status("saved", `Submitted · version ${result.data.version}`);
      const done = this.task.id;
      this.teardownTask();
      if (this.prefetched?.task.id === done) this.prefetched = null;
      await this.openNextTask();
    } finally {
      this.submitting = false;
    }
  }

  openSkip() {
    if (!this.editable) return;
    $("skip-error").hidden = true;
    $("skip-dialog").showModal();
    $("skip-reason").focus();
  }

  async skip() {
    const reason = $("skip-reason").value.trim();
    const error = $("skip-error");
    if (!reason) {
      error.textContent = "Say why you skip it.";
      error.hidden = false;
      return;
    }
    await this.saver?.save();
    const result = await this.safeRequest("POST", url(this.config.urls.skip, this.task.id), { reason });
    if (!result) return;
    if (!result.ok) {
      error.textContent = result.data.detail || `Skip failed (HTTP ${result.status}).`;
      error.hidden = false;
      return;
    }
    $("skip-dialog").close();
    $("skip-reason").value = "";
    this.teardownTask();
    await this.openNextTask();
  }

  async sendHeartbeat() {
    if (!this.task || !this.editable) return;
    try {
      const result = await request("POST", url(this.config.urls.heartbeat, this.task.id), {});
      if (result.status === 409 && result.data.code === "lease_lost") this.showLeaseLost(result.data);
      else if (isAuthProblem(result)) this.showAuthBanner();
    } catch {
      /* the next heartbeat tries again */
    }
  }

  // -- review -----------------------------------------------------------------------------

  setupReviewPanel() {
    if (this.mode !== "review") return;
    const panel = $("review-panel");
    if (!panel) return;
    const aside = this.root.querySelector(".lb-side");
    if (panel.parentElement !== aside) aside.insertBefore(panel, $("selection-panel"));
    const form = $("review-form");
    const reviewable = this.task.reviewable;
    for (const b of form.querySelectorAll("button")) b.disabled = !reviewable;
    if (!reviewable) {
      const result = $("review-result");
      result.hidden = false;
      result.textContent = `This task is ${this.task.state.replace("_", " ")}; there is nothing to decide.`;
    }
    if (form.dataset.bound) return;
    form.dataset.bound = "1";
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const decision = event.submitter?.dataset.decision;
      const comment = $("review-comment-input").value;
      const error = $("review-error");
      error.hidden = true;
      const result = await this.safeRequest("POST", url(this.config.urls.review, this.task.id), { decision, comment });
      if (!result) return;
      if (!result.ok) {
        const errors = result.data.errors || {};
        error.textContent = [result.data.detail, ...Object.values(errors).flat()].filter(Boolean).join(" ");
        error.hidden = false;
        return;
      }
      for (const b of form.querySelectorAll("button")) b.disabled = true;
      const done = $("review-result");
      done.hidden = false;
      done.textContent = decision === "accept" ? "Accepted." : "Rejected: sent back to the annotator with your comment.";
      this.task.state = result.data.state;
      this.renderTaskInfo();
      this.status("saved", `Review recorded: ${result.data.state}`);
    });
  }
}

const config = JSON.parse($("label-config").textContent);
new LabelApp(config).start();
