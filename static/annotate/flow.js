// The labeling page's conversation with the server: the draft saver and its answers
// (conflicts, schema changes, expired sessions), the lease (heartbeat), the queue (next
// task, prefetch, submit, skip); and the review page's accept/reject form (ReviewPanel).

import { DraftSaver, clearLocalDraft, isAuthProblem, request, storeLocalDraft } from "./api.js";
import { fromPayload, toPayload } from "./model.js";
import { $, url, canonical } from "./dom.js";

const HEARTBEAT_MS = 60_000;

export class Flow {
  /**
   * openTask(id, payload?) and closeTask(): the page opens and closes tasks;
   * finishSkeleton(): end the skeleton being placed (before submitting);
   * schemaReloaded(): the editor has a new schema (the palette follows);
   * requestDraw(): repaint the shapes (errors are drawn on them).
   */
  constructor(
    editor,
    {
      config,
      mode,
      notices,
      panels,
      openTask,
      closeTask,
      finishSkeleton,
      schemaReloaded,
      requestDraw,
    },
  ) {
    this.editor = editor;
    this.config = config;
    this.mode = mode;
    this.notices = notices;
    this.panels = panels;
    this.openTask = openTask;
    this.closeTask = closeTask;
    this.finishSkeleton = finishSkeleton;
    this.schemaReloaded = schemaReloaded;
    this.requestDraw = requestDraw;
    this.saver = null; // a DraftSaver while an editable task is open
    this.heartbeat = null;
    this.prefetched = null; // {task, payload} of the next task, held while this one is labeled
    this.submitting = false;
  }

  bind() {
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

  /**
   * A task is open: autosave its drafts (and hold its lease) when it is editable, else say
   * why not. server: the stored annotation {version}; baseVersion: the version the editor's
   * document builds on; restored: the document came from this browser, not the server.
   */
  begin({ server, baseVersion, restored }) {
    const task = this.editor.task;
    const state = task.state.replace("_", " ");
    if (!this.editor.editable) {
      this.notices.status(
        "idle",
        this.mode === "review" ? "Read-only: review" : `Read-only: task is ${state}`,
      );
      if (this.mode === "label") {
        this.notices.banner(
          "locked",
          "warn",
          `This task is ${state}: it cannot be changed unless a reviewer sends it back.`,
        );
      }
      return;
    }
    this.saver = new DraftSaver({
      taskId: task.id,
      url: url(this.config.urls.annotation, task.id),
      baseVersion,
      serialize: () => this.editor.serialize(),
      snapshot: () => this.editor.doc,
      hooks: this.saverHooks(),
    });
    if (baseVersion !== server.version || restored) this.saver.markDirty();
    else
      this.notices.status(
        "saved",
        server.version ? `Saved · version ${server.version}` : "Nothing saved yet",
      );
    if (task.leased_to_me) {
      this.heartbeat = setInterval(() => this.sendHeartbeat(), HEARTBEAT_MS);
      this.prefetchNextTask();
    } else {
      // Opened by its address (a link to a task sent back, say): drafts save, but submitting
      // goes through the queue, which hands out the lease.
      this.notices.banner(
        "unleased",
        "info",
        "You are not holding this task in the queue: your drafts are saved, and to submit, take it from the queue.",
        [
          {
            label: "Take it from the queue",
            run: () => window.location.assign(url(this.config.urls.label_next_page, task.project)),
          },
        ],
      );
    }
  }

  /** The task closes: no more saves or heartbeats for it. */
  end() {
    this.saver?.stop();
    this.saver = null;
    clearInterval(this.heartbeat);
  }

  /** The document changed: keep it in this browser now, send it soon. */
  markDirty() {
    this.saver?.markDirty();
  }

  saveDraft() {
    return this.saver?.save();
  }

  /** Keep the document in this browser without sending it (it changed nothing stored). */
  keepLocally() {
    if (!this.saver) return;
    storeLocalDraft(this.editor.task.id, {
      baseVersion: this.saver.baseVersion,
      doc: this.editor.doc,
      dirty: this.saver.dirty,
    });
  }

  saverHooks() {
    return {
      status: (kind, text) => this.notices.status(kind, text),
      saved: () => {
        for (const id of ["conflict", "auth", "schema"]) this.notices.hide(id);
        this.showErrors(null);
      },
      invalid: (data) => this.showErrors(data.errors || {}, data.detail),
      conflict: (data) => this.resolveConflict(data),
      schemaChanged: (data) => {
        this.showErrors(data.errors || {}, data.detail);
        this.notices.banner("schema", "error", data.detail || "The label schema changed.", [
          { label: "Reload the schema (keep my shapes)", run: () => this.reloadSchema() },
        ]);
      },
      notEditable: (data) => {
        this.notices.banner(
          "locked",
          "error",
          data.detail || "This task can no longer be changed.",
        );
      },
      auth: () => this.showAuthBanner(),
      leaseLost: (data) => this.showLeaseLost(data),
    };
  }

  showErrors(errors, detail = "") {
    this.panels.showErrors(errors, detail);
    this.requestDraw();
  }

  showAuthBanner() {
    const next = encodeURIComponent(url(this.config.urls.label_page, this.editor.task?.id ?? ""));
    this.notices.banner(
      "auth",
      "error",
      "Your session expired. Your work is kept in this browser; log in again (new tab) and saving resumes by itself.",
      [{ label: "Log in again", href: `${this.config.urls.login}?next=${next}` }],
    );
  }

  showConflict(data) {
    this.notices.banner(
      "conflict",
      "error",
      `This task was saved elsewhere (version ${data.latest_version}), e.g. in another tab. Your work here is kept and not saved yet.`,
      [
        { label: "Load the saved version (undoable)", run: () => this.reloadFromServer() },
        { label: "Overwrite with my work", run: () => this.overwrite() },
      ],
    );
  }

  showLeaseLost(data) {
    this.notices.banner(
      "lease",
      "error",
      `${data.detail || "Your hold on this task expired."} Your work is kept in this browser.`,
      [{ label: "Go to the next task", run: () => this.openNextTask() }],
    );
  }

  /** A request that reports an expired session or a network failure (then null). */
  async safeRequest(method, address, body) {
    try {
      const result = await request(method, address, body);
      if (isAuthProblem(result)) this.showAuthBanner();
      return result;
    } catch (err) {
      this.notices.banner(
        "network",
        "error",
        `Network problem: ${err.message}. Retry in a moment.`,
      );
      return null;
    }
  }

  // -- conflicts and schema changes ------------------------------------------------------

  /** A newer version that holds exactly this work (this tab's own last-second save from an
   * earlier visit, say) is no conflict: adopt its number. Otherwise ask the annotator. */
  async resolveConflict(data) {
    const { editor, saver } = this;
    const changes = saver.changeCount;
    try {
      const result = await request("GET", url(this.config.urls.annotation, editor.task.id));
      const mine = canonical(toPayload(editor.doc, editor.frames).payload);
      if (
        result.ok &&
        saver.changeCount === changes &&
        canonical(
          toPayload(fromPayload(result.data.payload, editor.frames), editor.frames).payload,
        ) === mine
      ) {
        saver.adopt(result.data.version);
        return;
      }
    } catch {
      /* fall through to asking */
    }
    this.showConflict(data);
  }

  async reloadFromServer() {
    const editor = this.editor;
    const address = url(this.config.urls.annotation, editor.task.id);
    const result = await this.safeRequest("GET", address);
    if (!result || !result.ok) return;
    editor.change(
      () => {
        editor.doc = fromPayload(result.data.payload, editor.frames);
      },
      { save: false },
    );
    this.saver.baseVersion = result.data.version;
    this.saver.blocked = null;
    this.saver.dirty = false;
    this.notices.hide("conflict");
    this.notices.status("saved", `Loaded version ${result.data.version}`);
  }

  async overwrite() {
    this.saver.blocked = null;
    this.saver.dirty = true;
    const ok = await this.saver.save({ force: true });
    if (ok) this.notices.hide("conflict");
  }

  async reloadSchema() {
    const editor = this.editor;
    const result = await this.safeRequest("GET", url(this.config.urls.payload, editor.task.id));
    if (!result || !result.ok) return;
    editor.setSchema(result.data.schema);
    this.schemaReloaded();
    this.notices.hide("schema");
    const known = new Set(editor.schema.classes.map((c) => c.name));
    const stale = editor.doc.shapes.filter((shape) => !known.has(shape.label)).length;
    if (stale) {
      this.saver.blocked = "invalid"; // released by the next change
      this.notices.status(
        "blocked",
        `Schema reloaded: ${stale} shape(s) use a removed class; give them another class and saving resumes.`,
      );
    } else {
      this.saver.blocked = null;
      this.saver.dirty = true;
      this.saver.save();
    }
    this.requestDraw();
  }

  // -- the queue -------------------------------------------------------------------------

  async openNextTask() {
    if (this.prefetched) {
      const next = this.prefetched;
      this.prefetched = null;
      return this.openTask(next.task.id, next.payload);
    }
    const result = await this.safeRequest("POST", this.config.urls.next, { exclude: [] });
    if (!result) return;
    if (result.status === 404) {
      this.panels.showEmpty("The task queue is not available yet.");
      return;
    }
    if (!result.ok) {
      this.panels.showEmpty(result.data.detail || `Could not get a task (HTTP ${result.status}).`);
      return;
    }
    if (!result.data.task) {
      this.panels.showEmpty(result.data.detail || "No tasks left in this project.");
      return;
    }
    return this.openTask(result.data.task.id);
  }

  async prefetchNextTask() {
    const task = this.editor.task;
    if (this.prefetched || !task) return;
    try {
      const result = await request("POST", this.config.urls.next, { exclude: [task.id] });
      if (!result.ok || !result.data.task || result.data.task.id === task.id) return;
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
    const editor = this.editor;
    if (!editor.editable || this.submitting) return;
    if (editor.placing) this.finishSkeleton();
    this.submitting = true;
    try {
      if (this.saver.inFlight) await this.saver.inFlight;
      const { payload } = editor.serialize();
      this.notices.status("saving", "Submitting…");
      let result;
      try {
        result = await request("POST", url(this.config.urls.submit, editor.task.id), {
          base_version: this.saver.baseVersion,
          force: false,
          payload,
        });
      } catch (err) {
        this.notices.status(
          "error",
          `Submit failed (network: ${err.message}); your work is kept. Try again.`,
        );
        return;
      }
      if (result.status === 404 && !result.data.detail) {
        this.notices.status(
          "error",
          "Submitting is not available yet (the queue API is missing); your draft is saved.",
        );
        return;
      }
      if (!result.ok) {
        this.saver.handleError(result, { retry: false });
        return;
      }
      this.saver.dirty = false;
      clearLocalDraft(editor.task.id);
      this.notices.status("saved", `Submitted · version ${result.data.version}`);
      const done = editor.task.id;
      this.closeTask();
      if (this.prefetched?.task.id === done) this.prefetched = null;
      await this.openNextTask();
    } finally {
      this.submitting = false;
    }
  }

  openSkip() {
    if (!this.editor.editable) return;
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
    const address = url(this.config.urls.skip, this.editor.task.id);
    const result = await this.safeRequest("POST", address, { reason });
    if (!result) return;
    if (!result.ok) {
      error.textContent = result.data.detail || `Skip failed (HTTP ${result.status}).`;
      error.hidden = false;
      return;
    }
    $("skip-dialog").close();
    $("skip-reason").value = "";
    this.closeTask();
    await this.openNextTask();
  }

  async sendHeartbeat() {
    const task = this.editor.task;
    if (!task || !this.editor.editable) return;
    try {
      const result = await request("POST", url(this.config.urls.heartbeat, task.id), {});
      if (result.status === 409 && result.data.code === "lease_lost")
        this.showLeaseLost(result.data);
      else if (isAuthProblem(result)) this.showAuthBanner();
    } catch {
      /* the next heartbeat tries again */
    }
  }
}

// -- the review page -----------------------------------------------------------------------

export class ReviewPanel {
  /**
   * safeRequest(method, address, body): the page's request (null on a network failure);
   * reviewed(state): the decision is recorded and the task is now in `state`.
   */
  constructor({ root, reviewUrl, safeRequest, reviewed }) {
    this.root = root;
    this.reviewUrl = reviewUrl;
    this.safeRequest = safeRequest;
    this.reviewed = reviewed;
    this.task = null;
  }

  /** A task opened on the review page. */
  show(task) {
    this.task = task;
    const panel = $("review-panel");
    if (!panel) return;
    const aside = this.root.querySelector(".lb-side");
    if (panel.parentElement !== aside) aside.insertBefore(panel, $("selection-panel"));
    const form = $("review-form");
    const reviewable = task.reviewable;
    for (const b of form.querySelectorAll("button")) b.disabled = !reviewable;
    if (!reviewable) {
      const result = $("review-result");
      result.hidden = false;
      result.textContent = `This task is ${task.state.replace("_", " ")}; there is nothing to decide.`;
    }
    if (form.dataset.bound) return;
    form.dataset.bound = "1";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.decide(form, event.submitter?.dataset.decision);
    });
  }

  async decide(form, decision) {
    const comment = $("review-comment-input").value;
    const error = $("review-error");
    error.hidden = true;
    const result = await this.safeRequest("POST", url(this.reviewUrl, this.task.id), {
      decision,
      comment,
    });
    if (!result) return;
    if (!result.ok) {
      const errors = result.data.errors || {};
      error.textContent = [result.data.detail, ...Object.values(errors).flat()]
        .filter(Boolean)
        .join(" ");
      error.hidden = false;
      return;
    }
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    const done = $("review-result");
    done.hidden = false;
    done.textContent =
      decision === "accept"
        ? "Accepted."
        : "Rejected: sent back to the annotator with your comment.";
    this.task.state = result.data.state;
    this.reviewed(result.data.state);
  }
}
