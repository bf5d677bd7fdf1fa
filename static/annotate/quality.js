// The project's quality page: agreement plots drawn as small SVGs from the API.
// Text goes in through textContent only; nothing from the server becomes markup.
const SVG = "http://www.w3.org/2000/svg";
const COLORS = { box_f1: "#4363d8", oks: "#3cb44b", hota: "#f58231", idf1: "#911eb4", similarity: "#3cb44b" };

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text) node.textContent = text;
  return node;
}

function fmt(value, digits = 2) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

/** Horizontal bars, one group per row, one bar per metric present (values in [0, 1]). */
function bars(container, rows, label, metrics) {
  const shown = metrics.filter((m) => rows.some((r) => r[m] !== null && r[m] !== undefined));
  if (!rows.length || !shown.length) {
    container.textContent = "Nothing measured yet.";
    return;
  }
  const barH = 12, gap = 8, left = 140, width = 520, right = 50;
  const groupH = shown.length * barH + gap;
  const height = rows.length * groupH + 24;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "quality-bars" });
  svg.style.maxWidth = "100%";
  svg.style.height = "auto";
  const scale = (v) => Math.max(0, Math.min(1, v)) * (width - left - right);
  rows.forEach((row, i) => {
    const top = i * groupH;
    svg.append(el("text", { x: left - 6, y: top + groupH / 2, "text-anchor": "end", "font-size": 11 }, String(label(row))));
    shown.forEach((metric, j) => {
      const value = row[metric];
      if (value === null || value === undefined) return;
      const y = top + j * barH;
      const rect = el("rect", { x: left, y, width: scale(value), height: barH - 2, fill: COLORS[metric] || "#4363d8", "data-metric": metric });
      rect.append(el("title", {}, `${label(row)}: ${metric} ${fmt(value, 3)}`));
      svg.append(rect, el("text", { x: left + scale(value) + 4, y: y + barH - 3, "font-size": 10 }, fmt(value)));
    });
  });
  const axis = rows.length * groupH + 4;
  svg.append(el("line", { x1: left, y1: axis, x2: width - right, y2: axis, stroke: "currentColor" }));
  svg.append(el("text", { x: left, y: axis + 14, "font-size": 10 }, "0"), el("text", { x: width - right, y: axis + 14, "font-size": 10, "text-anchor": "end" }, "1"));
  let x = left + 30;
  for (const metric of shown) {
    svg.append(el("rect", { x, y: axis + 6, width: 10, height: 10, fill: COLORS[metric] || "#4363d8" }), el("text", { x: x + 14, y: axis + 15, "font-size": 10 }, metric));
    x += 70;
  }
  container.replaceChildren(svg);
}

function summary(container, data) {
  const s = data.summary;
  const parts = [`${s.tasks} task${s.tasks === 1 ? "" : "s"} with a consensus`];
  for (const [key, name] of [["box_f1", "box F1"], ["oks", "OKS"], ["hota", "HOTA"], ["idf1", "IDF1"], ["idsw", "ID switches"]]) {
    if (s[key] !== null) parts.push(`${name} ${fmt(s[key])}`);
  }
  container.textContent = parts.join(" · ");
}

function table(body, tasks) {
  body.replaceChildren(
    ...tasks.map((t) => {
      const tr = document.createElement("tr");
      const link = document.createElement("a");
      link.href = `/tasks/${t.task}/review/`;
      link.textContent = `#${t.task}`;
      const first = document.createElement("td");
      first.append(link);
      tr.append(first);
      for (const value of [t.asset_name, t.annotators, fmt(t.box_f1), fmt(t.oks), fmt(t.hota), fmt(t.idf1), fmt(t.idsw, 1)]) {
        const td = document.createElement("td");
        td.textContent = String(value);
        tr.append(td);
      }
      return tr;
    }),
  );
}

async function main() {
  const section = document.getElementById("quality");
  if (!section) return;
  const response = await fetch(section.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  section.dataset.loaded = "1";
  if (!data.tasks.length) section.querySelector(".quality-empty").hidden = false;
  summary(section.querySelector(".quality-summary"), data);
  const plot = (name) => section.querySelector(`[data-plot="${name}"]`);
  const metrics = ["box_f1", "oks", "hota", "idf1"];
  bars(plot("annotators"), data.annotators, (r) => `${r.username} (${r.tasks})`, metrics);
  bars(plot("tasks"), [...data.tasks].reverse().slice(-40), (r) => `#${r.task}`, metrics);
  bars(plot("classes"), data.classes, (r) => r.name, ["box_f1"]);
  bars(plot("joints"), data.joints, (r) => r.name, ["similarity"]);
  table(section.querySelector(".quality-tasks tbody"), data.tasks);
}

main();
