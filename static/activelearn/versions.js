// Model versions on the Model & queue page: the list, activate, roll back, and the ONNX
// upload form. Every check is the API's; its 400 answers are shown in words by the field.
import { request } from "../annotate/api.js";
import { describeFailure, formatWhen } from "../annotate/errors.js";
import { clearErrors, h, say, sendForm, showErrors } from "../annotate/forms.js";
import { metricsText } from "./loop_format.js";

export class Versions {
  constructor(config, { onRunStarted }) {
    this.config = config;
    this.onRunStarted = onRunStarted;
    this.table = document.getElementById("versions-table");
    this.empty = document.getElementById("versions-empty");
    this.status = document.getElementById("versions-status");
    this.form = document.getElementById("upload-form");
    document.getElementById("rollback-button")?.addEventListener("click", () => this.rollback());
    this.form?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.upload();
    });
  }

  async load() {
    if (!this.config.urls.versions) return;
    let result;
    try {
      result = await request("GET", this.config.urls.versions);
    } catch {
      result = null;
    }
    if (!result?.ok) {
      say(this.status, `The model versions could not be loaded: ${describeFailure(result)}`, "error");
      return;
    }
    this.render(result.data);
  }

  render(versions) {
    const { kinds, task_types: taskTypes } = this.config.labels;
    const body = this.table.tBodies[0];
    body.replaceChildren(
      ...versions.map((v) =>
        h(
          "tr",
          { dataset: { version: v.id }, class: v.is_active ? "active" : "" },
          h("td", {}, h("strong", {}, v.name), v.notes ? h("div", { class: "muted small" }, v.notes) : null),
          h("td", {}, kinds[v.kind] ?? v.kind),
          h("td", {}, taskTypes[v.task_type] ?? v.task_type),
          h("td", {}, v.is_active ? h("span", { class: "badge state-active" }, "Active") : h("span", { class: "muted small" }, "inactive")),
          h("td", { class: "small" }, metricsText(v.metrics) || h("span", { class: "muted" }, "not measured yet")),
          h("td", { class: "small" }, formatWhen(v.created_at), v.uploaded_by ? h("div", { class: "muted" }, `by ${v.uploaded_by}`) : null),
          h(
            "td",
            { class: "actions-cell" },
            this.config.may_manage && !v.is_active
              ? h("button", { type: "button", class: "button small", onclick: () => this.activate(v) }, "Activate")
              : null,
          ),
        ),
      ),
    );
    this.table.hidden = !versions.length;
    this.empty.hidden = versions.length > 0;
  }

  async post(url, doing) {
    say(this.status, doing);
    let result;
    try {
      result = await request("POST", url, {});
    } catch {
      result = null;
    }
    if (!result?.ok) {
      say(this.status, describeFailure(result), "error");
      return null;
    }
    return result.data;
  }

  async activate(version) {
    const url = this.config.urls.activate.replace("/0/", `/${version.id}/`);
    const data = await this.post(url, `Activating ${version.name}…`);
    if (!data) return;
    say(this.status, `${data.version.name} is active; scoring run #${data.scoring_run} reorders the queue.`, "ok");
    await this.load();
    this.onRunStarted();
  }

  async rollback() {
    const data = await this.post(this.config.urls.rollback, "Rolling back…");
    if (!data) return;
    // The answer says where it went: the version before, the newest baseline, or no model.
    say(this.status, `${data.message} Scoring run #${data.scoring_run} reorders the queue.`, "ok");
    await this.load();
    this.onRunStarted();
  }

  async upload() {
    const status = document.getElementById("upload-status");
    const button = document.getElementById("upload-button");
    clearErrors(this.form);
    const data = new FormData(this.form);
    if (!data.get("notes")) data.delete("notes");
    button.disabled = true;
    say(status, "Uploading and test-running the model…");
    let result;
    try {
      result = await sendForm(this.config.urls.versions, data);
    } catch {
      result = null;
    } finally {
      button.disabled = false;
    }
    if (result?.ok) {
      say(status, `Uploaded ${result.data.name}. Activate it to score the queue with it.`, "ok");
      this.form.reset();
      await this.load();
      return;
    }
    if (result?.status === 400) {
      const general = showErrors(this.form, result.data, status);
      if (!general.length) say(status, "The checkpoint was refused; see the messages above.", "error");
    } else {
      say(status, describeFailure(result), "error");
    }
  }
}
