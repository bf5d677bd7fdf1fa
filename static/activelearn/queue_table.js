// The ranked queue on the Model & queue page: tasks in the order they are handed out, each
// with its score, each strategy's part and why it sits there (e.g. "collision of #3 and #7
// at frames 41–47"), a page at a time.
import { request } from "../annotate/api.js";
import { describeFailure, formatWhen } from "../annotate/errors.js";
import { h, say } from "../annotate/forms.js";
import { breakdownEntries, pageText, reasonTexts } from "./loop_format.js";

export const PAGE_SIZE = 25;

export class RankedQueue {
  constructor(config) {
    this.config = config;
    this.page = 1;
    this.table = document.getElementById("queue-table");
    this.empty = document.getElementById("queue-empty");
    this.status = document.getElementById("queue-status");
    this.pager = document.getElementById("queue-pager");
    document.getElementById("queue-prev").addEventListener("click", () => this.load(this.page - 1));
    document.getElementById("queue-next").addEventListener("click", () => this.load(this.page + 1));
  }

  async load(page = this.page) {
    const address = `${this.config.urls.queue}?page=${page}&page_size=${PAGE_SIZE}`;
    let result;
    try {
      result = await request("GET", address);
    } catch {
      result = null;
    }
    if (!result?.ok) {
      say(this.status, `The queue could not be loaded: ${describeFailure(result)}`, "error");
      return;
    }
    say(this.status, "");
    this.page = page;
    this.render(result.data);
  }

  render(data) {
    const rows = data.results ?? [];
    this.table.tBodies[0].replaceChildren(
      ...rows.map((task) =>
        h(
          "tr",
          { dataset: { task: task.id } },
          h("td", { class: "num" }, String(task.rank)),
          h("td", {}, `#${task.id}`, h("div", { class: "muted small" }, `asset ${task.asset}`)),
          h("td", {}, task.kind === "video" ? `video, frames ${task.frame_start}–${task.frame_end}` : task.kind),
          h("td", {}, h("span", { class: `badge state-${task.state}` }, task.state.replace("_", " "))),
          h("td", { class: "num" }, task.score == null ? h("span", { class: "muted" }, "not scored") : task.score.toFixed(4)),
          h(
            "td",
            {},
            h("ul", { class: "breakdown" }, ...breakdownEntries(task.breakdown).map(([name, value]) => h("li", {}, h("span", {}, `${name} `), value))),
            ...(reasonTexts(task).length ? [h("ul", { class: "reasons small" }, ...reasonTexts(task).map((text) => h("li", {}, text)))] : []),
          ),
          h("td", { class: "small" }, formatWhen(task.scored_at)),
        ),
      ),
    );
    this.table.hidden = !rows.length;
    this.empty.hidden = rows.length > 0;
    const meta = document.getElementById("queue-meta");
    const budget = data.budget || {};
    const parts = [data.model_version ? `ordered by ${data.model_version}` : "cold-start order (no active model)"];
    if (budget.money_left != null) parts.push(`${budget.money_left} ${budget.currency ?? ""} of the label budget left`);
    if (budget.tasks_left != null) parts.push(`${budget.tasks_left} tasks left in the budget`);
    meta.textContent = parts.join(" · ");
    this.pager.hidden = !(data.next || data.previous);
    document.getElementById("queue-prev").disabled = !data.previous;
    document.getElementById("queue-next").disabled = !data.next;
    document.getElementById("queue-page").textContent = pageText(this.page, data.count, PAGE_SIZE);
  }
}
