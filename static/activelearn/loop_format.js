// Pure wording of the Model & queue page (no DOM): run states, progress, metrics and a task's
// score breakdown, from the API's rows and the server's labels.

export const LIVE_STATES = ["queued", "running"];

export const isLive = (run) => LIVE_STATES.includes(run.state);

/** The state in words; a state the labels do not know yet is shown as it is named. */
export function stateLabel(state, labels = {}) {
  if (labels[state]) return labels[state];
  if (state === "superseded") return "Superseded";
  return String(state ?? "");
}

/** "3 of 8 chunks", or why nothing moves yet. */
export function progressText(run) {
  if (run.state === "superseded") return "replaced by a newer run";
  if (!run.chunks_total) {
    if (run.state === "queued") return run.error ? "not sent to a worker yet" : "waiting for a worker";
    if (run.state === "done") return "nothing to score";
    return "no chunks";
  }
  return `${run.chunks_done} of ${run.chunks_total} chunks`;
}

/** 0..1 for the progress bar (the API's own figure when it gives one). */
export function progressFraction(run) {
  if (typeof run.progress === "number") return Math.min(1, Math.max(0, run.progress));
  return run.chunks_total ? run.chunks_done / run.chunks_total : 0;
}

const fmt = (value) => (Number.isInteger(value) ? String(value) : Number(value).toFixed(3));

/** "accuracy 0.810 · box_map 0.402 (40 validation examples)"; "" when nothing is measured.
 *  The headline metric comes first; bookkeeping keys (ids, dates) are left out. */
export function metricsText(metrics) {
  if (!metrics || typeof metrics !== "object") return "";
  const skip = new Set(["metric", "validation_examples", "validation_task_ids", "evaluated_at", "evaluated_from"]);
  const numbers = Object.entries(metrics).filter(([k, v]) => !skip.has(k) && typeof v === "number");
  const headline = metrics.metric;
  numbers.sort(([a], [b]) => (a === headline ? -1 : b === headline ? 1 : a.localeCompare(b)));
  const text = numbers.map(([k, v]) => `${k} ${fmt(v)}`).join(" · ");
  if (text && typeof metrics.validation_examples === "number") {
    return `${text} (${metrics.validation_examples} validation examples)`;
  }
  return text;
}

/** [[strategy, "0.412"], ...] of a task's breakdown, largest part first. */
export function breakdownEntries(breakdown) {
  return Object.entries(breakdown || {})
    .filter(([, v]) => typeof v === "number")
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => [k, fmt(v)]);
}

/** Why a task ranks where it does, in words: its reasons' texts, strongest first. */
export function reasonTexts(task) {
  return (task?.reasons ?? []).map((reason) => reason?.text).filter((text) => typeof text === "string" && text);
}

/** "Page 2 of 5 (230 tasks)" from a DRF page. */
export function pageText(page, count, pageSize) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  return `Page ${page} of ${pages} (${count} task${count === 1 ? "" : "s"})`;
}
