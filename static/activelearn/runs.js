// Scoring runs on the Model & queue page: the latest runs with their progress, polled every
// few seconds while one is queued or running, and a button for a manual run.
import { request } from "../annotate/api.js";
import { describeFailure, formatWhen } from "../annotate/errors.js";
import { h, poller, say } from "../annotate/forms.js";
import { isLive, progressFraction, progressText, stateLabel } from "./loop_format.js";

export class Runs {
  constructor(config, { onFinished }) {
    this.config = config;
    this.onFinished = onFinished;
    this.table = document.getElementById("runs-table");
    this.empty = document.getElementById("runs-empty");
    this.status = document.getElementById("runs-status");
    this.live = new Set();
    this.poll = poller(() => this.load(), config.poll_seconds);
    document.getElementById("start-run-button")?.addEventListener("click", () => this.start());
  }

  watch() {
    this.poll.start();
  }

  /** Fetch and draw; true while a run is live (the poller goes on). */
  async load() {
    let result;
    try {
      result = await request("GET", this.config.urls.runs);
    } catch {
      result = null;
    }
    if (!result?.ok) {
      say(this.status, `The scoring runs could not be loaded: ${describeFailure(result)}`, "error");
      return result == null; // offline: try again; a refusal will not change by itself
    }
    const runs = result.data.results ?? [];
    this.render(runs, result.data.count ?? runs.length);
    const live = new Set(runs.filter(isLive).map((run) => run.id));
    const finished = [...this.live].some((id) => !live.has(id));
    this.live = live;
    if (finished) this.onFinished();
    return live.size > 0;
  }

  render(runs, count) {
    const states = this.config.labels.run_states;
    const reasons = this.config.labels.reasons;
    this.table.tBodies[0].replaceChildren(
      ...runs.map((run) =>
        h(
          "tr",
          { dataset: { run: run.id, state: run.state } },
          h("td", { class: "small" }, formatWhen(run.created_at), h("div", { class: "muted" }, `#${run.id}`)),
          h("td", {}, reasons[run.reason] ?? run.reason),
          h("td", {}, run.model_version_name ?? h("span", { class: "muted" }, "cold start (no model)")),
          h("td", {}, h("span", { class: `badge state-${run.state}` }, stateLabel(run.state, states))),
          h(
            "td",
            {},
            h(
              "div",
              { class: "job-progress" },
              h("progress", { max: 1, value: progressFraction(run), "aria-label": `Run ${run.id} progress` }),
              h("span", { class: "small run-progress" }, progressText(run)),
            ),
            run.error ? h("p", { class: run.state === "failed" ? "error small" : "notice small" }, run.error) : null,
          ),
          h("td", { class: "num" }, String(run.tasks_scored)),
          h("td", { class: "small" }, formatWhen(run.finished_at) || h("span", { class: "muted" }, "—")),
        ),
      ),
    );
    this.table.hidden = !runs.length;
    this.empty.hidden = runs.length > 0;
    if (count > runs.length) say(this.status, `The latest ${runs.length} of ${count} runs.`);
  }

  async start() {
    const button = document.getElementById("start-run-button");
    button.disabled = true;
    say(this.status, "Starting a scoring run…");
    let result;
    try {
      result = await request("POST", this.config.urls.runs, {});
    } catch {
      result = null;
    } finally {
      button.disabled = false;
    }
    if (result?.ok) say(this.status, `Scoring run #${result.data.id} started.`, "ok");
    else say(this.status, describeFailure(result), "error");
    this.watch(); // a 503 run is listed too, waiting for the broker
  }
}
