// The project page's learning curve: fetch the points from the API and draw a small SVG.
// Text goes in through textContent only; nothing from the server becomes markup.
import { curveLayout, polylinePoints } from "./curve_geometry.js";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function draw(container, data) {
  const layout = curveLayout(data.points);
  const { width, height, pad } = layout;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "curve" });
  svg.style.maxWidth = "100%"; // small on wide screens, shrinks on narrow ones
  svg.style.height = "auto";
  svg.append(
    el("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "currentColor" }),
    el("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, stroke: "currentColor" }),
    el("text", { x: width / 2, y: height - 6, "text-anchor": "middle", "font-size": 11 }, "labels spent"),
    el("text", { x: pad - 4, y: height - pad, "text-anchor": "end", "font-size": 10 }, "0"),
    el("text", { x: width - pad, y: height - pad + 14, "text-anchor": "end", "font-size": 10 }, String(layout.maxLabels)),
    el("text", { x: pad - 4, y: pad + 4, "text-anchor": "end", "font-size": 10 }, layout.maxValue.toFixed(2)),
    el("text", { x: 4, y: 12, "font-size": 11 }, data.metric || "metric"),
  );
  svg.append(el("polyline", { points: polylinePoints(layout.coords), fill: "none", stroke: "#4363d8", "stroke-width": 2 }));
  for (const point of layout.coords) {
    const dot = el("circle", { cx: point.cx, cy: point.cy, r: point.is_active ? 5 : 3.5, fill: point.is_active ? "#3cb44b" : "#4363d8" });
    dot.append(el("title", {}, `${point.name}: ${point.metric} ${point.value.toFixed(3)} after ${point.labels} labels${point.is_active ? " (active)" : ""}`));
    svg.append(dot);
  }
  container.replaceChildren(svg);
}

async function main() {
  const section = document.getElementById("learning-curve");
  if (!section) return;
  let response;
  try {
    response = await fetch(section.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch {
    return; // offline: the page works without the plot
  }
  if (!response.ok) return; // not a manager or ML engineer of this project: no plot
  const data = await response.json();
  section.hidden = false;
  if (!data.points.length) {
    section.querySelector(".curve-empty").hidden = false;
    return;
  }
  draw(section.querySelector(".curve-plot"), data);
}

main();
