// Table rows of the Exports page: export and import jobs with their state, progress, the
// download link of a finished export and the per-record report of an import.
import { formatWhen } from "./errors.js";
import { h } from "./forms.js";

export const isLive = (job) => job.state === "queued" || job.state === "running";

function stateCell(job, labels) {
  return h("td", {}, h("span", { class: `badge state-${job.state}` }, labels.states[job.state] ?? job.state));
}

function progressCell(job, text) {
  return h(
    "td",
    {},
    h("div", { class: "job-progress" }, h("progress", { max: 1, value: job.progress ?? 0 }), h("span", { class: "small" }, text)),
    job.error ? h("p", { class: "error small job-error" }, job.error) : null,
  );
}

export function exportRow(job, labels) {
  const what = [job.state_filter === "submitted" ? "all submitted" : "accepted only"];
  if (job.date_from || job.date_to) what.push(`${job.phase === "review" ? "reviewed" : "labeled"} ${job.date_from ?? "…"} to ${job.date_to ?? "…"}`);
  if (job.include_images) what.push("with images");
  if (job.skeletons && job.skeletons !== "skeleton") what.push(`skeletons: ${labels.skeletons?.[job.skeletons] ?? job.skeletons}`);
  // What the export left out, by kind (skeletons: omit, or what the points form cannot carry).
  const summary = (job.summary ?? []).map((line) => h("li", { dataset: { kind: line.kind } }, line.message));
  const progress = job.tasks_total ? `${job.tasks_done} of ${job.tasks_total} tasks` : isLive(job) ? "waiting for a worker" : `${job.tasks_done} tasks`;
  return h(
    "tr",
    { dataset: { export: job.id, state: job.state } },
    h("td", { class: "small" }, formatWhen(job.created_at), h("div", { class: "muted" }, `#${job.id}`)),
    h("td", {}, labels.formats[job.format] ?? job.format),
    h("td", { class: "small" }, what.join(", "), summary.length ? h("ul", { class: "export-summary" }, ...summary) : null),
    stateCell(job, labels),
    progressCell(job, progress),
    h("td", { class: "small" }, formatWhen(job.finished_at) || h("span", { class: "muted" }, "—")),
    h("td", { class: "actions-cell" }, job.download_url ? h("a", { class: "button small primary download", href: job.download_url }, "Download") : null),
  );
}

function recordTable(items, why) {
  return h(
    "table",
    { class: "table import-errors" },
    h("thead", {}, h("tr", {}, h("th", {}, "Record"), h("th", {}, why))),
    h("tbody", {}, ...items.map((e) => h("tr", {}, h("td", {}, h("code", {}, String(e.record ?? ""))), h("td", {}, String(e.message ?? ""))))),
  );
}

function report(job) {
  const errors = job.errors ?? [];
  const warnings = job.warnings ?? [];
  if (!errors.length && !warnings.length) {
    if (job.state === "done") return h("span", { class: "small" }, `${job.tasks_written} tasks written, no record refused.`);
    return h("span", { class: "muted small" }, "—");
  }
  // What was not imported (or only in part), by kind, before the records one by one.
  const summary = (job.summary ?? []).map((line) => h("li", { dataset: { kind: line.kind } }, line.message));
  const parts = [h("ul", { class: "import-summary small" }, ...summary)];
  if (errors.length) {
    parts.push(
      h(
        "details",
        { class: "report", open: errors.length <= 5 },
        h("summary", {}, `${errors.length} record${errors.length === 1 ? "" : "s"} refused`),
        recordTable(errors, "Why"),
      ),
    );
  }
  if (warnings.length) {
    parts.push(
      h(
        "details",
        { class: "report warnings", open: warnings.length <= 5 },
        h("summary", {}, `${warnings.length} record${warnings.length === 1 ? "" : "s"} imported in part`),
        recordTable(warnings, "Not kept"),
      ),
    );
  }
  return h("div", {}, ...parts);
}

export function importRow(job, labels) {
  const records = job.records_total
    ? `${job.records_imported} of ${job.records_total} imported, ${job.records_failed} refused`
    : isLive(job) ? "waiting for a worker" : "no records";
  return h(
    "tr",
    { dataset: { import: job.id, state: job.state } },
    h("td", { class: "small" }, formatWhen(job.created_at), h("div", { class: "muted" }, `#${job.id}`)),
    h("td", {}, labels.formats[job.format] ?? job.format),
    h("td", {}, labels.modes[job.as] ?? job.as, job.model_version ? h("div", { class: "muted small" }, job.model_version) : null),
    stateCell(job, labels),
    progressCell(job, records),
    h("td", {}, report(job)),
  );
}
