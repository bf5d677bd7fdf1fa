// The joint-mastery panel of the Model & queue page: a table of each keypoint's OKS and PCK
// per model version with whether it is mastered, and a plot of its error by version.
// Text goes in through textContent only; nothing from the server becomes markup.
import { request } from "../annotate/api.js";
import { polylinePoints } from "./curve_geometry.js";
import { figureText, jointsLayout, ruleText } from "./joints_geometry.js";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function cell(tag, text, className = "") {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

function drawTable(table, report) {
  const head = table.querySelector("thead tr");
  head.replaceChildren(cell("th", "Keypoint"), cell("th", "σ", "num"));
  for (const version of report.versions) head.append(cell("th", version.is_active ? `${version.name} (active)` : version.name));
  head.append(cell("th", "Mastered"), cell("th", "Weight", "num"));
  const rows = report.joints.map((joint) => {
    const row = document.createElement("tr");
    row.dataset.keypoint = joint.keypoint;
    row.append(cell("td", joint.keypoint), cell("td", joint.sigma.toFixed(3), "num"));
    for (const figure of joint.by_version) row.append(cell("td", figureText(figure), "joint-figure"));
    row.append(cell("td", joint.mastered ? "yes" : "no", joint.mastered ? "joint-mastered" : "joint-learning"));
    row.append(cell("td", `${(100 * joint.weight).toFixed(0)}%`, "num"));
    return row;
  });
  table.querySelector("tbody").replaceChildren(...rows);
}

function drawPlot(container, legend, report) {
  const layout = jointsLayout(report);
  const { width, height, pad } = layout;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "joints-errors" });
  svg.style.maxWidth = "100%";
  svg.style.height = "auto";
  svg.append(
    el("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "currentColor" }),
    el("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, stroke: "currentColor" }),
    el("text", { x: pad - 4, y: height - pad, "text-anchor": "end", "font-size": 10 }, "0"),
    el("text", { x: pad - 4, y: pad + 4, "text-anchor": "end", "font-size": 10 }, "1"),
    el("text", { x: 4, y: 12, "font-size": 11 }, "error (1 − OKS) by model version"),
    el("line", { x1: pad, y1: layout.thresholdY, x2: width - pad, y2: layout.thresholdY, stroke: "#b42318", "stroke-dasharray": "4 3", class: "joints-threshold" }),
  );
  layout.ticks.forEach((tick, i) => {
    // The first and last names lean inwards so the plot's edges do not cut them.
    const anchor = layout.ticks.length < 2 ? "middle" : i === 0 ? "start" : i === layout.ticks.length - 1 ? "end" : "middle";
    svg.append(el("text", { x: tick.cx, y: height - pad + 14, "text-anchor": anchor, "font-size": 10 }, tick.name));
  });
  for (const line of layout.lines) {
    if (!line.coords.length) continue;
    const group = el("g", { class: "joint-line", "data-keypoint": line.keypoint });
    group.append(el("polyline", { points: polylinePoints(line.coords), fill: "none", stroke: line.colour, "stroke-width": line.mastered ? 1 : 2, "stroke-dasharray": line.mastered ? "2 2" : "" }));
    for (const point of line.coords) {
      const dot = el("circle", { cx: point.cx, cy: point.cy, r: 3, fill: line.colour });
      dot.append(el("title", {}, `${line.keypoint}, ${point.name}: error ${point.error.toFixed(3)}`));
      group.append(dot);
    }
    svg.append(group);
  }
  container.replaceChildren(svg);
  legend.replaceChildren(
    ...layout.lines.map((line) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.borderColor = line.colour;
      item.append(swatch, document.createTextNode(line.mastered ? `${line.keypoint} (mastered)` : line.keypoint));
      return item;
    }),
  );
}

export async function loadJoints(config) {
  const section = document.getElementById("joints");
  if (!section || !config.urls.joints) return;
  let result;
  try {
    result = await request("GET", config.urls.joints);
  } catch {
    return; // offline: the rest of the page works without the panel
  }
  if (!result.ok) return;
  const report = result.data;
  section.hidden = false;
  section.querySelector("#joints-rule").textContent = ruleText(report);
  if (!report.versions.length) {
    section.querySelector(".joints-empty").hidden = false;
    section.querySelector(".table-wrap").hidden = true;
    section.querySelector(".joints-plot-card").hidden = true;
    return;
  }
  drawTable(section.querySelector("#joints-table"), report);
  drawPlot(section.querySelector(".joints-plot"), section.querySelector(".joints-legend"), report);
}
