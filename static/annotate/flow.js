// The labeling page's conversation with the server beyond drafts: the queue (next task,
// prefetch, submit, skip, heartbeat), conflicts and schema reloads, and the review form.
// Methods of LabelApp (label.js).

import { clearLocalDraft, isAuthProblem, request } from "./api.js";
import { fromPayload, toPayload } from "./model.js";
import { $, url, canonical } from "./dom.js";

export const flowMethods = {
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
  },

  async safeRequest(method, address, body) {
    try {
      const result = await request(method, address, body);
      if (isAuthProblem(result)) this.showAuthBanner();
      return result;
    } catch (err) {
      this.banner("network", "error", `Network problem: ${err.message}. Retry in a moment.`);
      return null;
    }
  },

  /** A newer version that holds exactly this work (this tab's own last-second save from an
   * earlier visit, say) is no conflict: adopt its number. Otherwise ask the annotator. */
  async resolveConflict(data) {
    const changes = this.saver.changeCount;
    try {
      const result = await request("GET", url(this.config.urls.annotation, this.task.id));
      const mine = canonical(toPayload(this.doc, this.frames).payload);
      if (
        result.ok &&
        this.saver.changeCount === changes &&
        canonical(toPayload(fromPayload(result.data.payload, this.frames), this.frames).payload) ===
          mine
      ) {
        this.saver.adopt(result.data.version);
        return;
      }
    } catch {
      /* fall through to asking */
    }
    this.showConflict(data);
  },

  async reloadFromServer() {
    const result = await this.safeRequest("GET", url(this.config.urls.annotation, this.task.id));
    if (!result || !result.ok) return;
    this.change(
      () => {
        this.doc = fromPayload(result.data.payload, this.frames);
      },
      { save: false },
    );
    this.saver.baseVersion = result.data.version;
    this.saver.blocked = null;
    this.saver.dirty = false;
    this.hideBanner("conflict");
    this.status("saved", `Loaded version ${result.data.version}`);
  },

  async overwrite() {
    this.saver.blocked = null;
    this.saver.dirty = true;
    const ok = await this.saver.save({ force: true });
    if (ok) this.hideBanner("conflict");
  },

  async reloadSchema() {
    const result = await this.safeRequest("GET", url(this.config.urls.payload, this.task.id));
    if (!result || !result.ok) return;
    this.schema = result.data.schema;
    this.colors = Object.fromEntries(this.schema.classes.map((c) => [c.name, c.color]));
    this.hotkeys = Object.fromEntries(
      this.schema.classes.filter((c) => c.hotkey).map((c) => [c.hotkey, c.name]),
    );
    if (!this.colors[this.currentLabel]) this.currentLabel = this.schema.classes[0]?.name ?? null;
    this.renderPalette();
    this.hideBanner("schema");
    const known = new Set(this.schema.classes.map((c) => c.name));
    const stale = this.doc.shapes.filter((shape) => !known.has(shape.label)).length;
    if (stale) {
      this.saver.blocked = "invalid"; // released by the next change
      this.status(
        "blocked",
        `Schema reloaded: ${stale} shape(s) use a removed class; give them another class and saving resumes.`,
      );
    } else {
      this.saver.blocked = null;
      this.saver.dirty = true;
      this.saver.save();
    }
    this.requestDraw();
  },

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
  },

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
        this.status(
          "error",
          `Submit failed (network: ${err.message}); your work is kept. Try again.`,
        );
        return;
      }
      if (result.status === 404 && !result.data.detail) {
        this.status(
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
      clearLocalDraft(this.task.id);
      this.status("saved", `Submitted · version ${result.data.version}`);
      const done = this.task.id;
      this.teardownTask();
      if (this.prefetched?.task.id === done) this.prefetched = null;
      await this.openNextTask();
    } finally {
      this.submitting = false;
    }
  },

  openSkip() {
    if (!this.editable) return;
    $("skip-error").hidden = true;
    $("skip-dialog").showModal();
    $("skip-reason").focus();
  },

  async skip() {
    const reason = $("skip-reason").value.trim();
    const error = $("skip-error");
    if (!reason) {
      error.textContent = "Say why you skip it.";
      error.hidden = false;
      return;
    }
    await this.saver?.save();
    const result = await this.safeRequest("POST", url(this.config.urls.skip, this.task.id), {
      reason,
    });
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
  },

  async sendHeartbeat() {
    if (!this.task || !this.editable) return;
    try {
      const result = await request("POST", url(this.config.urls.heartbeat, this.task.id), {});
      if (result.status === 409 && result.data.code === "lease_lost")
        this.showLeaseLost(result.data);
      else if (isAuthProblem(result)) this.showAuthBanner();
    } catch {
      /* the next heartbeat tries again */
    }
  },

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
      const result = await this.safeRequest("POST", url(this.config.urls.review, this.task.id), {
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
      this.renderTaskInfo();
      this.status("saved", `Review recorded: ${result.data.state}`);
    });
  },
};
