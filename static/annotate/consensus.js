// The review page's consensus: each annotator's submission and the merged result side by
// side (one pane each, the same frame in all), shapes that disagree drawn dashed in red.
// Reads /api/tasks/{id}/consensus/; text goes in through textContent only.
import { shapeAtFrame } from "./interpolate.js";

const SVG = "http://www.w3.org/2000/svg";
const AGREED = "#3cb44b";
const DISPUTED = "#e6194b";

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function fmt(value) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(2);
}

/** A version's shapes on frame position `at`, each with its place ("boxes[3]"). */
export function shapesAt(payload, at, frameIds) {
  const position = new Map(frameIds.map((id, i) => [id, i]));
  const out = [];
  const tracks = new Map();
  for (const [kind, list] of [["boxes", payload.boxes], ["keypoints", payload.keypoints]]) {
    list.forEach((shape, i) => {
      const ref = `${kind}[${i}]`;
      const frame = shape.frame === null ? 0 : position.get(shape.frame);
      const item = { ...shape, ref, type: kind === "boxes" ? "box" : "kp", frame };
      if (shape.track === null || shape.track === undefined) {
        if (frame === at) out.push(item);
      } else if (shape.keyframe !== false) {
        const key = `${kind}:${shape.track}`;
        if (!tracks.has(key)) tracks.set(key, []);
        tracks.get(key).push(item);
      }
    });
  }
  for (const keyframes of tracks.values()) {
    keyframes.sort((a, b) => a.frame - b.frame);
    const found = shapeAtFrame(keyframes, at);
    if (found) out.push({ ...found.value, ref: found.keyframe ? found.keyframe.ref : null, track: keyframes[0].track });
  }
  return out;
}

function drawShape(svg, shape, disputed) {
  const color = disputed ? DISPUTED : AGREED;
  const dash = disputed ? "6 4" : "";
  const group = el("g", { "data-ref": shape.ref ?? "", "data-disputed": disputed ? "1" : "0", class: "cs-shape" });
  if (shape.type === "box") {
    group.append(el("rect", { x: shape.x, y: shape.y, width: shape.w, height: shape.h, fill: "none", stroke: color, "stroke-width": 3, "stroke-dasharray": dash, "vector-effect": "non-scaling-stroke" }));
    group.append(el("text", { x: shape.x + 2, y: Math.max(shape.y - 4, 12), fill: color, "font-size": 14 }, `${shape.label}${shape.track ? ` #${shape.track}` : ""}`));
  } else {
    for (const point of Object.values(shape.points || {})) {
      if (!point || !point[2]) continue;
      group.append(el("circle", { cx: point[0], cy: point[1], r: 4, fill: color, "vector-effect": "non-scaling-stroke" }));
    }
  }
  group.append(el("title", {}, `${shape.label}${disputed ? " (disagreement)" : ""}`));
  svg.append(group);
}

function pane(title, subtitle, image, width, height, shapes, isDisputed) {
  const figure = document.createElement("figure");
  figure.className = "cs-pane";
  const caption = document.createElement("figcaption");
  const strong = document.createElement("strong");
  strong.textContent = title;
  const small = document.createElement("span");
  small.className = "muted small";
  small.textContent = ` ${subtitle}`;
  caption.append(strong, small);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "cs-svg", preserveAspectRatio: "xMidYMid meet" });
  if (image) svg.append(el("image", { href: image, x: 0, y: 0, width, height }));
  for (const shape of shapes) drawShape(svg, shape, isDisputed(shape));
  figure.append(caption, svg);
  return figure;
}

function mergedDisputes(data, frameIds, at) {
  // The merged shapes that are disputed, by where they are (frame and geometry).
  const frameId = frameIds.length ? frameIds[at] : null;
  return data.shapes.filter((s) => s.kept && s.disputed && (s.frame ?? null) === frameId);
}

function sameGeometry(shape, merged) {
  if (shape.type === "box" && merged.kind === "box" && merged.box) {
    const [x, y, w, h] = merged.box;
    return Math.abs(shape.x - x) < 0.5 && Math.abs(shape.y - y) < 0.5 && Math.abs(shape.w - w) < 0.5 && Math.abs(shape.h - h) < 0.5;
  }
  if (shape.type === "kp" && merged.kind === "keypoints" && merged.points) {
    return Object.entries(merged.points).every(([name, p]) => {
      const q = (shape.points || {})[name];
      return !p[2] || (q && Math.abs(q[0] - p[0]) < 0.5 && Math.abs(q[1] - p[1]) < 0.5);
    });
  }
  return false;
}

function render(root, data, media, at) {
  const frames = media.frames;
  const frameIds = media.kind === "video" ? frames.map((f) => f.id) : [];
  const frame = frames[Math.min(at, frames.length - 1)] || {};
  const width = frame.width || 640;
  const height = frame.height || 480;
  const panes = root.querySelector(".cs-panes");
  const children = data.annotators.map((version) => {
    const disputed = new Set(version.disputed);
    const shapes = shapesAt(version.payload, at, frameIds);
    const trackDisputes = new Set(
      data.tracks.filter((t) => !t.kept || t.agreement < 0.75 || t.support < 1).map((t) => t.members[version.author]).filter((n) => n !== undefined),
    );
    const figures = `F1 ${fmt(version.figures.box_f1)}${version.figures.oks !== null ? ` · OKS ${fmt(version.figures.oks)}` : ""}${version.figures.hota !== null ? ` · HOTA ${fmt(version.figures.hota)}` : ""}`;
    return pane(version.author || "annotator", `v${version.version} · ${figures}`, frame.url, width, height, shapes, (s) => (s.ref && disputed.has(s.ref)) || (s.track && trackDisputes.has(s.track)));
  });
  const disputes = mergedDisputes(data, frameIds, at);
  const mergedShapes = shapesAt(data.merged.payload, at, frameIds);
  children.push(pane("Consensus", `v${data.merged.version} · what you accept`, frame.url, width, height, mergedShapes, (s) => disputes.some((m) => sameGeometry(s, m))));
  panes.replaceChildren(...children);
  const label = root.querySelector(".cs-frame-label");
  if (label) label.textContent = media.kind === "video" ? `frame ${frame.index}` : "";
}

function summaryText(data) {
  const kept = data.shapes.filter((s) => s.kept);
  const disputed = kept.filter((s) => s.disputed).length;
  const dropped = data.shapes.length - kept.length;
  const a = data.agreement;
  const parts = [`${a.annotators} annotators`];
  if (a.box_f1 !== null) parts.push(`box F1 ${fmt(a.box_f1)}`);
  if (a.oks !== null) parts.push(`OKS ${fmt(a.oks)}`);
  if (a.hota !== null) parts.push(`HOTA ${fmt(a.hota)} · IDF1 ${fmt(a.idf1)} · ID switches ${fmt(a.idsw)}`);
  parts.push(`${disputed} of ${kept.length} merged shapes disputed`);
  if (dropped) parts.push(`${dropped} left out (drawn by too few)`);
  return parts.join(" · ");
}

async function main() {
  const panel = document.getElementById("consensus-summary");
  const dialog = document.getElementById("consensus-dialog");
  const payloadNode = document.getElementById("label-task");
  if (!panel || !dialog || !payloadNode) return;
  const media = JSON.parse(payloadNode.textContent).media;
  let response;
  try {
    response = await fetch(panel.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch {
    return;
  }
  if (!response.ok) return;
  const data = await response.json();
  if (!data.agreement) return; // one annotator: nothing to compare
  panel.hidden = false;
  panel.querySelector(".cs-text").textContent = summaryText(data);
  const slider = dialog.querySelector(".cs-frame");
  slider.max = String(Math.max(media.frames.length - 1, 0));
  slider.hidden = media.kind !== "video";
  const draw = () => render(dialog, data, media, Number(slider.value) || 0);
  slider.addEventListener("input", draw);
  panel.querySelector("button").addEventListener("click", () => {
    draw();
    dialog.showModal();
  });
  dialog.querySelector(".cs-close").addEventListener("click", () => dialog.close());
  document.body.dataset.consensus = "ready";
}

main();
