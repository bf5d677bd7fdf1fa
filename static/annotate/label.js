// The labeling page (and the review page, read-only): loads a task through the API, lets the
// annotator draw boxes, skeletons and tracks, autosaves drafts and moves through the queue.
// Pure logic lives in geometry.js, interpolate.js, undo.js and model.js; the pointer tools
// in tools.js, the panels in panels.js, the queue and review in flow.js.

import { DraftSaver, loadLocalDraft, pruneLocalDrafts } from "./api.js";
import { Renderer } from "./canvas.js";
import { FrameCache } from "./frames.js";
import { fitView, zoomAt } from "./geometry.js";
import {
  cloneDoc,
  copyToFrame,
  deleteTrack,
  emptyDoc,
  extendTrack,
  fromPayload,
  mergeTracks,
  removeShape,
  shapesAt,
  splitTrack,
  toPayload,
  trackGroups,
} from "./model.js";
import { actionFor } from "./shortcuts.js";
import { UndoStack } from "./undo.js";
import { $, url, canonical } from "./dom.js";
import { flowMethods } from "./flow.js";
import { panelsMethods } from "./panels.js";
import { toolsMethods } from "./tools.js";
import { suggestionsMethods } from "./suggestions.js";

const HEARTBEAT_MS = 60_000;

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

  async openTask(taskId, payload = null) {
    this.setState("loading");
    $("empty").hidden = true;
    if (!payload) {
      const result = await this.safeRequest("GET", url(this.config.urls.payload, taskId));
      if (!result) return;
      if (!result.ok) {
        this.showEmpty(
          result.data.detail || `Could not open task ${taskId} (HTTP ${result.status}).`,
        );
        return;
      }
      payload = result.data;
    }
    this.teardownTask();
    this.data = payload;
    this.task = payload.task;
    this.schema = payload.schema;
    this.frames = payload.media.frames;
    if (!this.frames.length || !this.frames[0].width) {
      this.showEmpty(
        `Task ${payload.task.id}: its media is still being processed; try again soon.`,
      );
      return;
    }
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

    if (
      this.mode === "label" &&
      window.location.pathname !== url(this.config.urls.label_page, this.task.id)
    ) {
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
      else
        this.status(
          "saved",
          server.version ? `Saved · version ${server.version}` : "Nothing saved yet",
        );
      if (this.task.leased_to_me) {
        this.heartbeat = setInterval(() => this.sendHeartbeat(), HEARTBEAT_MS);
        this.prefetchNextTask();
      } else {
        // Opened by its address (a link to a task sent back, say): drafts save, but submitting
        // goes through the queue, which hands out the lease.
        this.banner(
          "unleased",
          "info",
          "You are not holding this task in the queue: your drafts are saved, and to submit, take it from the queue.",
          [
            {
              label: "Take it from the queue",
              run: () =>
                window.location.assign(url(this.config.urls.label_next_page, this.task.project)),
            },
          ],
        );
      }
    } else {
      this.status(
        "idle",
        this.mode === "review"
          ? "Read-only: review"
          : `Read-only: task is ${this.task.state.replace("_", " ")}`,
      );
      if (this.mode === "label") {
        this.banner(
          "locked",
          "warn",
          `This task is ${this.task.state.replace("_", " ")}: it cannot be changed unless a reviewer sends it back.`,
        );
      }
    }
    this.setupReviewPanel();
    for (const button of this.root.querySelectorAll(
      "[data-action=undo], [data-action=redo], #palette button, #tracks-panel button",
    )) {
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
    this.loadSuggestions(server.version); // not awaited: the page is ready without them
  }

  teardownTask() {
    this.saver?.stop();
    this.saver = null;
    clearInterval(this.heartbeat);
    this.stopPlaying();
    this.cache?.dispose();
    this.cache = null;
  }

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
    this.renderSuggestions();
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
    this.selection = item
      ? item.track != null
        ? { track: item.track, type: item.type }
        : { id: item.keyframe.id }
      : null;
    this.selectedPoint = point;
    this.afterSelection();
  }

  afterSelection() {
    this.renderSelection();
    this.renderTracks();
    this.requestDraw();
  }

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
    $("frame-label").textContent =
      `Frame ${position + 1} / ${this.frames.length}${f.index != null && this.task.kind === "video" ? ` · source #${f.index}` : ""}`;
    let bitmap = this.cache.peek(position);
    if (!bitmap) {
      try {
        bitmap = await this.cache.get(position);
      } catch (err) {
        this.banner(
          "image",
          "error",
          `The image could not be loaded (${err.message}); shapes are still editable.`,
        );
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

  requestDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.drawNow();
    });
  }

  drawNow() {
    if (!this.frames?.length || !this.frames[0].width) return;
    const { width, height } = this.imageSize;
    if (this.imageDirty) {
      this.renderer.drawImage(this.bitmap, this.view, width, height);
      this.imageDirty = false;
    }
    this.renderer.drawShapes(this.shapesHidden ? [] : this.items(), this.view, {
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
    this.drawSuggestions();
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

  run(action, extra = {}) {
    if (this.suggestionAction(action)) return;
    const editing = this.editable;
    const item = this.selectedItem();
    switch (action) {
      case "tool-select":
        if (this.placing) this.finishSkeleton();
        return this.setTool("select");
      case "tool-box":
        return this.setTool("box");
      case "tool-keypoints":
        return this.setTool("kp");
      case "skip-point":
        return this.skipPoint();
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
      case "undo":
        return editing && this.doUndo();
      case "redo":
        return editing && this.doRedo();
      case "next-frame":
        return this.setFrame(this.frame + 1);
      case "prev-frame":
        return this.setFrame(this.frame - 1);
      case "play":
        return this.togglePlay();
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
        const numbers = [...$("track-list").querySelectorAll("input:checked")].map((i) =>
          Number(i.value),
        );
        if (numbers.length < 2) {
          this.banner("merge", "warn", "Check two or more tracks in the list to merge them.");
          return;
        }
        return this.change(() => {
          const target = mergeTracks(this.doc, numbers);
          for (const input of $("track-list").querySelectorAll("input:checked"))
            input.checked = false;
          this.selection = target ? { track: target, type: "box" } : null;
        });
      }
      case "toggle-shapes":
        this.shapesHidden = !this.shapesHidden;
        this.renderHint();
        return this.requestDraw();
      case "select-next":
      case "select-prev": {
        const items = this.items();
        if (!items.length) return;
        const at = items.findIndex((i) => this.isSelected(i));
        const step = action === "select-next" ? 1 : -1;
        return this.selectItem(items[(at + step + items.length) % items.length]);
      }
      case "fit":
        return this.fit();
      case "zoom-in":
        return this.setView(
          zoomAt(this.view, 1.25, this.renderer.width / 2, this.renderer.height / 2),
        );
      case "zoom-out":
        return this.setView(
          zoomAt(this.view, 0.8, this.renderer.width / 2, this.renderer.height / 2),
        );
      case "save":
        return this.saver?.save();
      case "submit":
        return this.submit();
      case "skip":
        return this.openSkip();
      case "help": {
        const overlay = $("shortcuts");
        overlay.hidden = !overlay.hidden;
        return;
      }
      case "class":
        return this.chooseClass(extra.label);
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
    if (this.root.dataset.state !== "ready" && match.action !== "help") return;
    // Tab moves between shapes only while the image has the focus; elsewhere it is Tab.
    // So does Enter (accept a suggestion): on a focused button it must still press the button.
    const imageKeys = match.action.startsWith("select-") || match.action === "accept-suggestion";
    if (imageKeys && document.activeElement !== this.stage) return;
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
      button.addEventListener("click", () =>
        this.run(
          { select: "tool-select", box: "tool-box", kp: "tool-keypoints" }[button.dataset.tool],
        ),
      );
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
}

Object.assign(LabelApp.prototype, panelsMethods, toolsMethods, flowMethods, suggestionsMethods);

const config = JSON.parse($("label-config").textContent);
new LabelApp(config).start();
