// The labeling page (and the review page, read-only): loads a task through the API, lets the
// annotator draw boxes, skeletons and tracks, autosaves drafts and moves through the queue.
// This entry module builds the page's parts and wires them together:
//   editor.js       Editor: the task's schema, shapes, frame, selection, undo (no DOM; events)
//   canvas.js       CanvasView: zoom/pan and drawing the editor's shapes (Renderer paints)
//   tools.js        Tools: pointer input (select, box, skeleton points), toolbar and palette
//   timeline.js     Timeline: frames, scrubber, play; FrameCache: frame images decoded ahead
//   tracks.js       Tracks: the track list, keyframe ticks, outside/copy/extend/split/merge/
//                   swap, likely identity switches (track_risk.js); addTrackAction for others
//   suggestions.js  Suggestions: the model's suggestions, to accept or drop
//   flow.js         Flow: drafts, lease, next/submit/skip; ReviewPanel: accept/reject
//   panels.js       Panels: the side panels; Notices: save status and banners
//   shortcuts.js    Shortcuts: keys and buttons -> createCommands: what each command does
// Pure logic lives in geometry.js, interpolate.js, undo.js, model.js and track_risk.js.

import { loadLocalDraft, pruneLocalDrafts } from "./api.js";
import { CanvasView } from "./canvas.js";
import { Editor } from "./editor.js";
import { Flow, ReviewPanel } from "./flow.js";
import { fromPayload, toPayload } from "./model.js";
import { Notices, Panels } from "./panels.js";
import { Propagation } from "./propagate.js";
import { Shortcuts, createCommands } from "./shortcuts.js";
import { Suggestions } from "./suggestions.js";
import { Timeline } from "./timeline.js";
import { Tools } from "./tools.js";
import { Tracks } from "./tracks.js";
import { $, url, canonical } from "./dom.js";

class LabelPage {
  constructor(config) {
    this.config = config;
    this.mode = config.mode;
    this.root = $("labeler");
    this.stage = $("stage");
    // Read by the browser tests and benchmarks/ui.py.
    this.stats = { frameChangeMs: [], readyMs: null, draws: 0, loads: 0 };

    const editor = (this.editor = new Editor());
    const { root, stage, mode } = this;
    const notices = (this.notices = new Notices());
    const canvas = (this.canvas = new CanvasView(editor, {
      stage,
      imageCanvas: $("image-layer"),
      shapeCanvas: $("shape-layer"),
      stats: this.stats,
    }));
    // The parts reach each other through these callbacks, so none needs the whole page
    // (arrow functions, so that they may name a part built further down).
    const goToFrame = (position) => this.timeline.setFrame(position);
    this.panels = new Panels(editor, {
      root,
      notices,
      mode,
      goTo: (frame, selection) => {
        goToFrame(frame);
        editor.select(selection);
      },
      setVisibility: (item, name, v) => this.tools.setVisibility(item, name, v),
      setAttribute: (item, spec, value) => this.tools.setAttribute(item, spec, value),
      setOccluded: (item, occluded) => this.tools.setOccluded(item, occluded),
    });
    this.flow = new Flow(editor, {
      config,
      mode,
      notices,
      panels: this.panels,
      openTask: (id, payload) => this.openTask(id, payload),
      closeTask: () => this.closeTask(),
      finishSkeleton: () => this.tools.finishSkeleton(),
      schemaReloaded: () => this.tools.renderPalette(),
      requestDraw: () => canvas.requestDraw(),
    });
    this.timeline = new Timeline(editor, {
      canvas,
      notices,
      stats: this.stats,
      beforeFrameChange: () => this.flow.saveDraft(), // autosave on frame change
      frameShown: () => {
        this.tracks.frameChanged(); // not the whole list: only what depends on the frame
        this.panels.renderSelection();
        this.tools.renderHint();
      },
    });
    this.tracks = new Tracks(editor, { notices, goToFrame });
    this.propagation = new Propagation(editor, { config, notices, flow: this.flow, goToFrame });
    this.suggestions = new Suggestions(editor, {
      canvas,
      stage,
      goToFrame,
      keepLocally: () => this.flow.keepLocally(),
      onUncertainSkeleton: (placing) => this.tools.startPlacing(placing),
    });
    canvas.addOverlay(() => this.suggestions.draw());
    this.tools = new Tools(editor, {
      root,
      stage,
      canvas,
      suggestions: this.suggestions,
      picker: { active: () => Boolean(this.tracks.picking), pick: (n) => this.tracks.pick(n) },
    });
    this.review = new ReviewPanel({
      root,
      reviewUrl: config.urls.review,
      safeRequest: (...args) => this.flow.safeRequest(...args),
      reviewed: (state) => {
        this.panels.renderTaskInfo();
        notices.status("saved", `Review recorded: ${state}`);
      },
    });
    this.shortcuts = new Shortcuts({
      root,
      stage,
      hotkeys: () => editor.hotkeys,
      run: createCommands({
        editor,
        canvas,
        tools: this.tools,
        tracks: this.tracks,
        timeline: this.timeline,
        suggestions: this.suggestions,
        flow: this.flow,
        propagation: this.propagation,
      }),
    });

    editor.on("change", ({ save }) => {
      if (save) this.flow.markDirty();
      this.panels.renderCounts();
      this.tracks.render();
      this.panels.renderSelection();
      this.tools.renderHint();
      this.suggestions.render();
      canvas.requestDraw();
    });
    editor.on("selection", () => {
      this.panels.renderSelection();
      this.tracks.renderKeyframeTicks();
      this.tracks.frameChanged();
      this.tools.renderHint();
      canvas.requestDraw();
    });
    editor.on("notice", ({ id, kind = "info", text }) => notices.banner(id, kind, text));
    window.labelApp = this;
  }

  // What the browser tests and benchmarks/ui.py read through window.labelApp.
  get task() {
    return this.editor.task;
  }
  get doc() {
    return this.editor.doc;
  }
  get view() {
    return this.canvas.view;
  }
  get renderer() {
    return this.canvas.renderer;
  }
  get drag() {
    return this.tools.drag;
  }
  get saver() {
    return this.flow.saver;
  }
  get prefetched() {
    return this.flow.prefetched;
  }
  items() {
    return this.editor.items();
  }
  drawNow() {
    this.canvas.drawNow();
  }
  setFrame(position) {
    return this.timeline.setFrame(position);
  }

  async start() {
    pruneLocalDrafts();
    this.tools.bind();
    this.shortcuts.bind();
    this.timeline.bind();
    this.flow.bind();
    this.canvas.watchSize();
    const embedded = $("label-task");
    if (this.config.task && embedded) {
      // The server put the task into the page: no round trip before the image loads.
      await this.openTask(this.config.task, JSON.parse(embedded.textContent));
      embedded.remove(); // later openings ask the API for fresh data
    } else if (this.config.task) await this.openTask(this.config.task);
    else await this.flow.openNextTask();
  }

  setState(state) {
    this.root.dataset.state = state;
  }

  async openTask(taskId, payload = null) {
    this.setState("loading");
    $("empty").hidden = true;
    if (!payload) {
      const result = await this.flow.safeRequest("GET", url(this.config.urls.payload, taskId));
      if (!result) return;
      if (!result.ok) {
        this.panels.showEmpty(
          result.data.detail || `Could not open task ${taskId} (HTTP ${result.status}).`,
        );
        return;
      }
      payload = result.data;
    }
    this.closeTask();
    const { task, schema } = payload;
    const frames = payload.media.frames;
    const editor = this.editor;
    editor.open({ task, schema, frames, editable: this.mode === "label" && task.editable });
    if (!frames.length || !frames[0].width) {
      this.panels.showEmpty(`Task ${task.id}: its media is still being processed; try again soon.`);
      return;
    }
    this.notices.clear();

    const server = payload.annotation;
    const { doc, baseVersion, restored } = this.startingDoc(server, frames);
    editor.setDoc(doc);
    if (restored) {
      this.notices.banner(
        "restored",
        "info",
        "Restored changes that had not reached the server yet (kept in this browser).",
      );
    }

    if (
      this.mode === "label" &&
      window.location.pathname !== url(this.config.urls.label_page, task.id)
    ) {
      history.replaceState({}, "", url(this.config.urls.label_page, task.id));
    }
    const preload = document.getElementById("preload-image");
    this.timeline.open(frames, {
      fps: payload.media.fps,
      preloaded: preload ? new URL(preload.href).pathname : null,
    });
    this.tools.renderPalette();
    this.panels.renderShortcutsTable();
    this.panels.renderTaskInfo();
    this.panels.renderReviewComment(payload.review);
    this.tools.setTool(editor.editable ? (schema.boxes ? "box" : "kp") : "select");
    $("tracks-panel").hidden = !editor.useTracks;
    this.flow.begin({ server, baseVersion, restored });
    this.propagation.taskOpened(); // not awaited: it only looks for a job still running
    if (this.mode === "review") this.review.show(task);
    for (const button of this.root.querySelectorAll(
      "[data-action=undo], [data-action=redo], #palette button, #tracks-panel button",
    )) {
      const moves = ["prev-keyframe", "next-keyframe"].includes(button.dataset.action);
      button.disabled = !editor.editable && !moves;
    }

    this.canvas.view = this.canvas.fitted();
    this.tracks.open();
    await this.timeline.showFrame(0, { initial: true });
    this.stats.readyMs = performance.now();
    this.stats.loads += 1;
    this.setState("ready");
    document.documentElement.dataset.labelReady = String(this.stats.loads);
    this.stage.focus({ preventScroll: true });
    this.suggestions.load(server.version); // not awaited: the page is ready without them
  }

  /** The server's version, or this browser's copy of work that never reached the server. */
  startingDoc(server, frames) {
    const doc = fromPayload(server.payload, frames);
    const local = this.mode === "label" ? loadLocalDraft(this.editor.task.id) : null;
    if (local?.dirty && local.doc) {
      const localPayload = toPayload(local.doc, frames).payload;
      if (canonical(localPayload) !== canonical(toPayload(doc, frames).payload)) {
        return { doc: local.doc, baseVersion: local.baseVersion ?? null, restored: true };
      }
    }
    return { doc, baseVersion: server.version, restored: false };
  }

  closeTask() {
    this.propagation.taskClosed();
    this.flow.end();
    this.timeline.close();
  }
}

const config = JSON.parse($("label-config").textContent);
new LabelPage(config).start();
