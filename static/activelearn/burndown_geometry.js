// Pure geometry of the budget burn-down plot (no DOM): cumulative spend over time against the
// budget, scaled into an SVG box. A forecast line (points {at, value}, with an optional note)
// is laid out on the same axes: the audit's forecast of the rest of the budget
// (audit_geometry.forecastForBurndown).

/** Which budget the plot measures: money when there is a money cap, tasks when only a task
 *  cap is set, money when there is neither. */
export function pickMeasure(data) {
  if (data.money_limit != null) return "money";
  if (data.task_limit != null) return "tasks";
  return "money";
}

const valueOf = (point, measure) =>
  measure === "tasks" ? Number(point.tasks_spent) : Number(point.money_spent);

/** Coordinates for the plot. x: time from the first point to the last (or `now`, or the
 *  forecast's end); y: 0 to the budget or the most spent, whichever is higher. */
export function burndownLayout(
  data,
  { width = 560, height = 220, pad = 44, measure = pickMeasure(data), now = null, forecast = [] } = {},
) {
  const limitRaw = measure === "tasks" ? data.task_limit : data.money_limit;
  const limit = limitRaw == null ? null : Number(limitRaw);
  const series = data.points.map((p) => ({ at: Date.parse(p.at), value: valueOf(p, measure) }));
  const ahead = forecast.map((p) => ({ ...p, at: Date.parse(p.at), value: Number(p.value) }));
  const times = [...series, ...ahead].map((p) => p.at);
  if (now != null) times.push(Date.parse(now));
  const t0 = times.length ? Math.min(...times) : 0;
  let t1 = times.length ? Math.max(...times) : 1;
  if (t1 <= t0) t1 = t0 + 60_000; // one instant: a minute wide, so nothing divides by zero
  const top = Math.max(limit ?? 0, ...series.map((p) => p.value), ...ahead.map((p) => p.value));
  const maxValue = top > 0 ? top * 1.05 : 1; // a little headroom above the budget line
  const x = (t) => pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad);
  const y = (v) => height - pad - (v / maxValue) * (height - 2 * pad);
  const spent = series.length ? series[series.length - 1].value : 0;
  return {
    width,
    height,
    pad,
    measure,
    t0,
    t1,
    maxValue,
    limit,
    spent,
    left: limit == null ? null : limit - spent,
    fraction: limit ? spent / limit : null,
    overBudget: limit != null && spent > limit,
    limitY: limit == null ? null : y(limit),
    nowX: now == null ? null : x(Date.parse(now)),
    coords: series.map((p) => ({ ...p, cx: x(p.at), cy: y(p.value) })),
    forecastCoords: ahead.map((p) => ({ ...p, cx: x(p.at), cy: y(p.value) })),
  };
}

/** The `points` of a staircase through the coordinates: spend is flat between buckets and
 *  steps up at each one, so the line never suggests spending that did not happen. With
 *  `untilX` (now) the last level runs on to it: nothing more was spent since. */
export function stepPoints(coords, untilX = null) {
  const out = [];
  coords.forEach((c, i) => {
    if (i > 0) out.push(`${c.cx.toFixed(1)},${coords[i - 1].cy.toFixed(1)}`);
    out.push(`${c.cx.toFixed(1)},${c.cy.toFixed(1)}`);
  });
  const last = coords[coords.length - 1];
  if (last && untilX != null && untilX > last.cx) out.push(`${untilX.toFixed(1)},${last.cy.toFixed(1)}`);
  return out.join(" ");
}
