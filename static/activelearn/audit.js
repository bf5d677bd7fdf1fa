// The audit panel of the Model & queue page: the active model measured on the random audit
// sample, the learning curves of actively chosen against audit labels (with 95% intervals and
// the random curve's fit), the labels saved and the forecast, from GET /api/projects/<id>/audit/.
// Text goes in through textContent only; nothing from the server becomes markup.
import { request } from "../annotate/api.js";
import { auditLayout, forecastSentence, modelSentence, savedSentence } from "./audit_geometry.js";
import { polylinePoints } from "./curve_geometry.js";

const SVG = "http://www.w3.org/2000/svg";
const ACTIVE = "#4363d8";
const RANDOM = "#f58231";

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function series(svg, points, colour, name, kind) {
  svg.append(el("polyline", { points: polylinePoints(points), fill: "none", stroke: colour, "stroke-width": 2, class: `${kind}-line` }));
  for (const p of points) {
    svg.append(el("line", { x1: p.cx, y1: p.lowY, x2: p.cx, y2: p.highY, stroke: colour, "stroke-width": 1, class: `${kind}-interval` }));
    const dot = el("circle", { cx: p.cx, cy: p.cy, r: 3.5, fill: colour, class: `${kind}-point` });
    dot.append(el("title", {}, `${name}, ${p.labels} labels: ${(100 * p.value).toFixed(1)}% (95% interval ${(100 * p.low).toFixed(1)} to ${(100 * p.high).toFixed(1)})`));
    svg.append(dot);
  }
}

export function drawCurves(container, curves, saved) {
  const layout = auditLayout(curves, saved.reason ? null : saved);
  const { width, height, pad } = layout;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "audit-curves" });
  svg.style.maxWidth = "100%";
  svg.style.height = "auto";
  svg.append(
    el("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "currentColor" }),
    el("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, stroke: "currentColor" }),
    el("text", { x: width / 2, y: height - 6, "text-anchor": "middle", "font-size": 11 }, "labels trained on"),
    el("text", { x: pad - 4, y: height - pad, "text-anchor": "end", "font-size": 10 }, "0"),
    el("text", { x: pad - 4, y: pad + 4, "text-anchor": "end", "font-size": 10 }, "100%"),
    el("text", { x: width - pad, y: height - pad + 14, "text-anchor": "end", "font-size": 10 }, String(Math.round(layout.maxLabels))),
    el("text", { x: 4, y: 12, "font-size": 11 }, "accuracy on the audit sample"),
  );
  if (layout.fitted.length) {
    svg.append(el("polyline", { points: polylinePoints(layout.fitted), fill: "none", stroke: RANDOM, "stroke-dasharray": "4 3", "stroke-width": 1.5, class: "random-fit" }));
  }
  if (layout.neededX != null) {
    // Where random labels would reach what the actively chosen ones reached.
    svg.append(
      el("line", { x1: layout.neededX, y1: pad, x2: layout.neededX, y2: height - pad, stroke: RANDOM, "stroke-dasharray": "2 3", class: "random-needed" }),
      el("text", { x: layout.neededX - 3, y: height - pad - 4, "text-anchor": "end", "font-size": 10, fill: RANDOM }, `random: ${Math.round(saved.random_needed)}`),
    );
  }
  series(svg, layout.random, RANDOM, "audit (random) labels", "random");
  series(svg, layout.active, ACTIVE, "actively chosen labels", "active");
  container.replaceChildren(svg);
  return layout;
}

/** Fetch and draw the panel; resolves to the answer (for the burn-down's forecast) or null. */
export async function loadAudit(config) {
  const section = document.getElementById("audit");
  if (!section || !config.urls.audit) return null;
  let result;
  try {
    result = await request("GET", config.urls.audit);
  } catch {
    return null; // offline: the rest of the page works without the panel
  }
  if (!result.ok) return null;
  const data = result.data;
  const status = section.querySelector(".audit-status");
  const figures = data.figures;
  section.querySelector(".audit-empty").hidden = Boolean(figures);
  section.querySelector(".audit-figures").hidden = !figures;
  status.textContent = data.measuring ? "A newer measurement is under way." : "";
  if (!figures) return data;
  const counts = figures.audit;
  section.querySelector(".audit-share").textContent =
    `Audit share ${Math.round(100 * figures.share)}% of every batch: ${counts.labeled} audit labels of ${figures.labels} ` +
    `(${counts.waiting} drawn and waiting, ${counts.skipped} skipped), from ${counts.batches} batches.`;
  section.querySelector(".audit-model").textContent = modelSentence(figures.model);
  const plot = section.querySelector(".audit-plot");
  const legend = section.querySelector(".audit-legend");
  if (figures.curves.active.length && figures.curves.random.length) {
    drawCurves(plot, figures.curves, figures.saved);
    legend.hidden = false;
    section.querySelector(".audit-curves-note").textContent =
      `One learner for both: ${figures.curves.learner}, scored on ${figures.curves.tested} audit images it did not train on.`;
  } else {
    plot.replaceChildren();
    legend.hidden = true;
    section.querySelector(".audit-curves-note").textContent = figures.curves.reason;
  }
  section.querySelector(".audit-saved").textContent = savedSentence(figures.saved);
  section.querySelector(".audit-forecast").textContent = forecastSentence(figures.forecast);
  const stop = section.querySelector(".audit-stop");
  stop.hidden = !(figures.forecast && figures.forecast.stop_recommended);
  return data;
}
