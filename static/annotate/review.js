// The review page's accept/reject form, beside the read-only workspace.

import { $, url } from "./dom.js";

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
