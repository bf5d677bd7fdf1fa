// Propagation on the labeling page: carry the selected track (or all tracks on the frame)
// forward or backward to the end of the segment or of the video, by optical flow in a worker
// (POST /api/tasks/{id}/propagations/). While it runs the page shows its progress and does
// not edit; when it is done the page loads the new version, lists the shapes the flow was
// unsure of (below the project's threshold) with a jump to each, and offers to undo it.
// The controls are templates/annotate/_propagate.html, inside the tracks panel.

import { request } from "./api.js";
import { $, url } from "./dom.js";

const POLL_MS = 400;

/** "frames 4–7, 9" from sorted positions (1-based for people). */
export function frameRanges(positions) {
  const parts = [];
  let start = null;
  let last = null;
  for (const p of positions) {
    if (start !== null && p === last + 1) {
      last = p;
      continue;
    }
    if (start !== null) parts.push(start === last ? `${start + 1}` : `${start + 1}–${last + 1}`);
    start = last = p;
  }
  if (start !== null) parts.push(start === last ? `${start + 1}` : `${start + 1}–${last + 1}`);
  return parts.join(", ");
}

export class Propagation {
  /** flow: the page's Flow (saver, reloadFromServer); goToFrame(position). */
  constructor(editor, { config, notices, flow, goToFrame }) {
    this.editor = editor;
    this.config = config;
    this.notices = notices;
    this.flow = flow;
    this.goToFrame = goToFrame;
    this.job = null; // the job shown (running or last finished)
    this.timer = null;
    this.wasEditable = null;
  }

  get available() {
    const editor = this.editor;
    return Boolean(editor.task && editor.useTracks && this.config.mode === "label");
  }

  /** A task opened: show the controls, and pick up a propagation still running for it. */
  async taskOpened() {
    const panel = $("propagate");
    if (!panel) return;
    panel.hidden = !this.available;
    $("propagate-progress").hidden = true;
    $("propagate-result").hidden = true;
    this.job = null;
    if (!this.available || !this.editor.editable) return;
    const taskId = this.editor.task.id;
    const result = await this.flow.safeRequest("GET", url(this.config.urls.propagations, taskId));
    if (!result?.ok || this.editor.task?.id !== taskId) return;
    const live = result.data.find((job) => job.state === "queued" || job.state === "running");
    if (live) this.watch(live);
  }

  taskClosed() {
    clearTimeout(this.timer);
    this.timer = null;
    this.unlock();
    this.job = null;
  }

  get running() {
    return this.job !== null && (this.job.state === "queued" || this.job.state === "running");
  }

  /** p / Shift+P and the two buttons. */
  async start(direction) {
    const editor = this.editor;
    if (!this.available || !editor.editable || this.running) return;
    const which = $("propagate-which").value;
    const selected = editor.selection?.track ?? null;
    if (which === "selected" && selected == null) {
      this.notices.banner(
        "propagate",
        "warn",
        "Select a track to propagate, or choose “all tracks on this frame”.",
      );
      return;
    }
    // The job works on the saved version: save what is on the page first.
    await this.flow.saveDraft();
    const saver = this.flow.saver;
    if (!saver || saver.dirty) {
      this.notices.banner(
        "propagate",
        "error",
        "Your changes are not saved yet (see the status above); propagation waits for them.",
      );
      return;
    }
    const body = {
      frame: editor.frames[editor.frame].id,
      tracks: which === "selected" ? [selected] : "all",
      direction,
      until: $("propagate-until").value,
      base_version: saver.baseVersion,
    };
    this.notices.hide("propagate");
    const result = await this.flow.safeRequest(
      "POST",
      url(this.config.urls.propagations, editor.task.id),
      body,
    );
    if (!result) return;
    if (result.status !== 202 && result.status !== 503) {
      const errors = Object.values(result.data.errors || result.data || {})
        .flat()
        .filter((m) => typeof m === "string");
      this.notices.banner(
        "propagate",
        "error",
        result.data.detail || errors.join(" ") || `Propagation refused (HTTP ${result.status}).`,
      );
      return;
    }
    this.watch(result.data);
  }

  /** Show a job's progress until it ends; no editing meanwhile. */
  watch(job) {
    this.job = job;
    this.lock();
    $("propagate-result").hidden = true;
    $("propagate-progress").hidden = false;
    this.showProgress(job);
    const poll = async () => {
      if (this.job?.id !== job.id) return;
      const result = await this.flow.safeRequest("GET", job.url);
      if (this.job?.id !== job.id) return;
      if (result?.ok) {
        this.job = result.data;
        this.showProgress(result.data);
        if (!this.running) return this.finished(result.data);
      }
      this.timer = setTimeout(poll, POLL_MS);
    };
    this.timer = setTimeout(poll, POLL_MS);
  }

  showProgress(job) {
    const bar = $("propagate-bar");
    bar.value = job.progress;
    const waiting = job.state === "queued" && job.error ? ` — ${job.error}` : "";
    $("propagate-status").textContent =
      job.state === "queued"
        ? `Waiting for a worker…${waiting}`
        : `Propagating… ${job.frames_done} / ${job.frames_total} frames`;
    document.documentElement.dataset.propagation = job.state;
  }

  async finished(job) {
    $("propagate-progress").hidden = true;
    this.unlock();
    if (job.state === "done") await this.flow.reloadFromServer();
    this.showResult(job);
    document.documentElement.dataset.propagation = job.state;
  }

  showResult(job) {
    const box = $("propagate-result");
    box.hidden = false;
    const list = $("propagate-flagged");
    list.replaceChildren();
    $("propagate-undo").hidden = job.state !== "done" || Boolean(job.undone_at);
    if (job.state !== "done") {
      $("propagate-summary").textContent =
        job.state === "skipped" ? job.error : `Propagation failed: ${job.error}`;
      return;
    }
    const flaggedShapes = job.flagged.reduce((n, f) => n + f.frames.length, 0);
    $("propagate-summary").textContent =
      `Propagated ${job.shapes_written} shape${job.shapes_written === 1 ? "" : "s"} over ` +
      `${job.frames_done} frame${job.frames_done === 1 ? "" : "s"}` +
      (flaggedShapes ? `; check the ${flaggedShapes} the flow was unsure of:` : ".");
    const position = new Map(this.editor.frames.map((f, i) => [f.index, i]));
    for (const stop of job.stops.filter((s) => s.frame !== null && s.track !== null)) {
      const li = document.createElement("li");
      const where = position.has(stop.frame) ? `frame ${position.get(stop.frame) + 1}` : "";
      li.textContent = `Track ${stop.track} stopped before ${where || "another segment"}: ${stop.reason}.`;
      list.append(li);
    }
    for (const { track, frames } of job.flagged) {
      const here = frames.filter((index) => position.has(index)).map((i) => position.get(i));
      const li = document.createElement("li");
      const text = document.createElement("span");
      const elsewhere = frames.length - here.length;
      text.textContent =
        `Track ${track}: frames ${frameRanges(here)}` +
        (elsewhere ? ` (+${elsewhere} in other segments)` : "");
      li.append(text);
      if (here.length) {
        const jump = document.createElement("button");
        jump.type = "button";
        jump.textContent = "Go";
        jump.title = `Show track ${track} on the first frame to check`;
        jump.addEventListener("click", () => {
          this.editor.selection = { track, type: "box" };
          this.goToFrame(here[0]);
          this.editor.select({ track, type: "box" });
        });
        li.append(jump);
      }
      list.append(li);
    }
  }

  /** One step back: every task the job wrote gets its version from before, anew. */
  async undo() {
    const job = this.job;
    if (!job || job.state !== "done" || job.undone_at || !this.editor.editable) return;
    const result = await this.flow.safeRequest("POST", job.undo_url, {});
    if (!result) return;
    if (!result.ok) {
      this.notices.banner("propagate", "error", result.data.detail || "Undo refused.");
      return;
    }
    this.job = result.data;
    await this.flow.reloadFromServer();
    $("propagate-undo").hidden = true;
    $("propagate-summary").textContent = "Propagation undone.";
    $("propagate-flagged").replaceChildren();
  }

  lock() {
    if (this.wasEditable !== null) return;
    this.wasEditable = this.editor.editable;
    this.editor.editable = false;
    for (const id of ["propagate-forward", "propagate-backward"]) $(id).disabled = true;
  }

  unlock() {
    if (this.wasEditable === null) return;
    this.editor.editable = this.wasEditable;
    this.wasEditable = null;
    for (const id of ["propagate-forward", "propagate-backward"]) {
      $(id).disabled = !this.editor.editable;
    }
  }
}
