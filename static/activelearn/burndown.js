// The budget burn-down plot: spent against the budget over time, drawn as a small SVG from
// GET /api/projects/<id>/budget/burndown/. Text goes in through textContent only.
import { burndownLayout, stepPoints } from "./burndown_geometry.js";
import { polylinePoints } from "./curve_geometry.js";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

const day = (ms) => new Date(ms).toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

function amount(value, layout, currency) {
  return layout.measure === "tasks" ? `${Math.round(value)} tasks` : `${value.toFixed(2)} ${currency}`;
}

/** One line of words under the plot: what is spent of what, and what is left. */
export function summary(data, layout) {
  const currency = data.currency || "";
  const spent = amount(layout.spent, layout, currency);
  if (layout.limit == null) return `Spent ${spent}; no budget cap is set.`;
  const percent = Math.round((layout.fraction ?? 0) * 100);
  const left = layout.overBudget
    ? `over budget by ${amount(-layout.left, layout, currency)}`
    : `${amount(layout.left, layout, currency)} left`;
  return `Spent ${spent} of ${amount(layout.limit, layout, currency)} (${percent}%), ${left}.`;
}

/** What partial labeling saved: the points the model or propagation pre-filled, at the
 * budget's price per point and per box; empty when nothing was pre-filled. */
export function savingSummary(data) {
  const prefilled = data.points_prefilled ?? 0;
  if (!prefilled) return "";
  const byHand = data.points_by_hand ?? 0;
  const share = Math.round((100 * prefilled) / (prefilled + byHand));
  const saved = Number(data.money_saved ?? 0).toFixed(2);
  return `Partial labeling saved ${saved} ${data.currency || ""}: ${prefilled} points pre-filled (${share}%), ${byHand} placed by hand.`;
}

export function drawBurndown(section, data, { forecast = [] } = {}) {
  const plot = section.querySelector(".plot");
  const words = section.querySelector(".burndown-summary");
  const empty = section.querySelector(".burndown-empty");
  const layout = burndownLayout(data, { forecast, now: new Date().toISOString() });
  words.textContent = summary(data, layout);
  const saving = section.querySelector(".burndown-saving");
  if (saving) {
    saving.textContent = savingSummary(data);
    saving.hidden = !saving.textContent;
  }
  const legend = section.querySelector(".burndown-legend");
  if (legend) legend.hidden = !data.points.length;
  if (!data.points.length) {
    empty.hidden = false;
    plot.replaceChildren();
    return layout;
  }
  empty.hidden = true;
  const { width, height, pad } = layout;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "burndown" });
  svg.style.maxWidth = "100%";
  svg.style.height = "auto";
  const unit = layout.measure === "tasks" ? "tasks labeled" : `spent (${data.currency})`;
  svg.append(
    el("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "currentColor" }),
    el("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, stroke: "currentColor" }),
    el("text", { x: pad - 4, y: height - pad, "text-anchor": "end", "font-size": 10 }, "0"),
    el("text", { x: pad, y: height - pad + 14, "font-size": 10 }, day(layout.t0)),
    el("text", { x: width - pad, y: height - pad + 14, "text-anchor": "end", "font-size": 10 }, day(layout.t1)),
    el("text", { x: 4, y: 12, "font-size": 11 }, unit),
  );
  if (layout.limitY != null) {
    svg.append(
      el("line", {
        x1: pad, y1: layout.limitY, x2: width - pad, y2: layout.limitY,
        stroke: "#b42318", "stroke-dasharray": "6 4", "stroke-width": 1.5, class: "budget-line",
      }),
      el("text", { x: width - pad, y: layout.limitY - 4, "text-anchor": "end", "font-size": 10, fill: "#b42318" },
        `budget ${amount(layout.limit, layout, data.currency)}`),
    );
  }
  svg.append(el("polyline", { points: stepPoints(layout.coords, layout.nowX), fill: "none", stroke: "#4363d8", "stroke-width": 2, class: "spent-line" }));
  if (layout.forecastCoords.length) {
    // The place for a forecast: dashed, from the last spent point on.
    const last = layout.coords[layout.coords.length - 1];
    svg.append(el("polyline", {
      points: polylinePoints([last, ...layout.forecastCoords]), fill: "none", stroke: "#888",
      "stroke-dasharray": "3 3", "stroke-width": 1.5, class: "forecast-line",
    }));
    // Where to stop and where the budget ends, with the metric forecast there.
    for (const point of layout.forecastCoords.filter((p) => p.note)) {
      const mark = el("circle", { cx: point.cx, cy: point.cy, r: 4, fill: "#fff", stroke: "#888", "stroke-width": 1.5, class: "forecast-mark" });
      mark.append(el("title", {}, `${point.note}, ${amount(point.value, layout, data.currency)} by ${day(point.at)}`));
      svg.append(mark, el("text", { x: point.cx - 6, y: point.cy + 14, "text-anchor": "end", "font-size": 10, fill: "#555", class: "forecast-note" }, point.note));
    }
  }
  const last = layout.coords[layout.coords.length - 1];
  const dot = el("circle", { cx: last.cx, cy: last.cy, r: 4, fill: "#4363d8" });
  dot.append(el("title", {}, `${amount(last.value, layout, data.currency)} by ${day(last.at)}`));
  svg.append(dot);
  plot.replaceChildren(svg);
  return layout;
}
