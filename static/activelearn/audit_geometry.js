// Pure logic of the audit panel (no DOM): the two learning curves (actively chosen against
// audit labels) with their intervals and the random curve's fit, laid out in an SVG box; the
// forecast as points for the budget burn-down; and the panel's sentences.

/** acc(n) = a - b (n / scale)^-c, the fit the server made (activelearn.audit.stats). */
export function powerLaw(fit, labels) {
  return fit.a - fit.b * Math.pow(Math.max(labels, 1e-9) / fit.scale, -fit.c);
}

/** Coordinates for the curves plot. x: labels trained on, 0 to the most of either arm (or of
 *  the labels random would need, when that is within twice the measured range); y: 0 to 1. */
export function auditLayout(curves, saved, { width = 480, height = 220, pad = 40 } = {}) {
  const all = [...curves.active, ...curves.random];
  let maxLabels = Math.max(1, ...all.map((p) => p.labels));
  const needed = saved && saved.random_needed;
  if (needed != null && needed <= 2 * maxLabels) maxLabels = Math.max(maxLabels, needed);
  const x = (labels) => pad + (labels / maxLabels) * (width - 2 * pad);
  const y = (value) => height - pad - Math.min(Math.max(value, 0), 1) * (height - 2 * pad);
  const place = (p) => ({ ...p, cx: x(p.labels), cy: y(p.value), lowY: y(p.low), highY: y(p.high) });
  const fitted = [];
  const fit = saved && saved.random_fit;
  if (fit) {
    const first = Math.max(1, Math.min(...curves.random.map((p) => p.labels)));
    for (let i = 0; i <= 40; i += 1) {
      const labels = first + ((maxLabels - first) * i) / 40;
      fitted.push({ labels, value: powerLaw(fit, labels), cx: x(labels), cy: y(powerLaw(fit, labels)) });
    }
  }
  return {
    width,
    height,
    pad,
    maxLabels,
    active: curves.active.map(place),
    random: curves.random.map(place),
    fitted,
    neededX: needed != null && needed <= maxLabels ? x(needed) : null,
  };
}

const pct = (value) => `${(100 * value).toFixed(1)}%`;
const figure = (metric, value) => (metric === "accuracy" ? pct(value) : value.toFixed(3));
const range = (metric, low, high) =>
  low == null || high == null ? "" : ` (95% interval ${figure(metric, low)} to ${figure(metric, high)})`;

/** What the audit sample says of the active model, in one sentence. */
export function modelSentence(model) {
  if (model.reason) return model.reason;
  const slice = model.validation_slice
    ? ` On the validation slice, which the ranking chose, it measures ${figure(model.metric, model.validation_slice.value)}.`
    : "";
  const left = model.left_out_labeled_before_the_version
    ? ` ${model.left_out_labeled_before_the_version} audit labels made before this model are left out.`
    : "";
  const batch = model.latest_batch;
  const latest =
    batch && batch.examples < model.examples
      ? ` Today's pool, from the latest batch's ${batch.examples} audit labels alone: ${figure(model.metric, batch.value)}${range(model.metric, batch.low, batch.high)}.`
      : "";
  return (
    `${model.name}: ${model.metric} ${figure(model.metric, model.value)}${range(model.metric, model.low, model.high)} ` +
    `on ${model.examples} audit labels, uniform samples of the pool as each batch found it.${latest}${slice}${left}`
  );
}

const whole = (value) => Math.round(value).toLocaleString("en");

/** Labels saved against random sampling, in a few sentences: measured first (no
 *  extrapolation), then the labels random would need for today's accuracy when the fitted
 *  curve may be read that far, then the two curves at equal labels. */
export function savedSentence(saved) {
  if (saved.reason && saved.target_labels == null) return saved.reason;
  const parts = [];
  const share = saved.measured_share;
  if (saved.active_needed == null) {
    parts.push(`The actively chosen labels never reached the ${pct(saved.target_value)} that ${whole(saved.target_labels)} random audit labels reached.`);
  } else {
    const interval = share.low != null && share.high != null ? ` (95% interval ${pct(share.low)} to ${pct(share.high)})` : "";
    parts.push(
      `Measured: to reach ${pct(saved.target_value)}, the accuracy of ${whole(saved.target_labels)} random audit labels, ` +
      `the actively chosen ones needed ${whole(saved.active_needed)}: ${pct(share.value)} fewer${interval}.`,
    );
  }
  if (saved.saved != null) {
    const interval =
      saved.saved_low != null || saved.saved_high != null
        ? ` (95% interval ${saved.saved_low == null ? "unbounded" : whole(saved.saved_low)} to ${saved.saved_high == null ? "unbounded" : whole(saved.saved_high)})`
        : "";
    const word = saved.saved >= 0 ? "saved" : "cost";
    parts.push(
      `Labels ${word} so far against random sampling: ${saved.capped ? "at least " : ""}${whole(Math.abs(saved.saved))}${interval}; ` +
      `random labels would need ${whole(saved.random_needed)} to reach the ${pct(saved.active_value)} the ${whole(saved.labels_used)} actively chosen ones reached` +
      (saved.beyond_measured ? " (read from the fitted curve, beyond the measured points)." : "."),
    );
  } else if (saved.reason) {
    parts.push(saved.reason);
  }
  if (saved.equal_gain) {
    const gain = saved.equal_gain;
    parts.push(`At ${whole(saved.equal_labels)} labels each, actively chosen minus random: ${(100 * gain.value).toFixed(1)} points (${(100 * gain.low).toFixed(1)} to ${(100 * gain.high).toFixed(1)}).`);
  }
  return parts.join(" ");
}

/** What the rest of the budget buys, and whether to stop, in words. */
export function forecastSentence(forecast) {
  if (forecast.reason) return forecast.reason;
  const m = forecast.metric;
  const source = forecast.source === "audit" ? "the audit's curve" : "the validation slice's curve (it reads low)";
  const gain = forecast.gain_next;
  let text =
    `Forecast from ${source}: ${figure(m, forecast.now.value)} now, ${figure(m, forecast.end.value)}` +
    `${range(m, forecast.end.low, forecast.end.high)} after the ${whole(forecast.labels_end - forecast.labels_now)} labels the budget still pays for. ` +
    `The next ${whole(forecast.per)} labels gain ${(100 * gain.value).toFixed(2)} points (up to ${(100 * gain.high).toFixed(2)}).`;
  if (forecast.stop_now) text += " Stopping is recommended: more labels buy less than the project's threshold.";
  else if (forecast.stop_at != null) text += ` Stopping will be recommended at about ${whole(forecast.stop_at)} labels.`;
  return text;
}

/** The forecast as points {at, value, note} for the burn-down's dashed line, in the plot's
 *  measure (tasks or money); points without a time (no labels lately) are left out. The
 *  stop point and the end of the budget carry a note with the metric there. */
export function forecastForBurndown(forecast, measure) {
  if (!forecast || forecast.reason || !forecast.path) return [];
  const m = forecast.metric;
  const last = forecast.path.length - 1;
  return forecast.path
    .map((p, i) => {
      let note = null;
      if (i === last) note = `budget spent: ${m} ${figure(m, p.value)} (${figure(m, p.low)} to ${figure(m, p.high)})`;
      if (forecast.stop_at != null && p.labels === forecast.stop_at && i > 0) {
        note = `stop recommended here: ${m} ${figure(m, p.value)}`;
      }
      return { at: p.at, value: measure === "tasks" ? p.tasks_spent : p.money_spent, labels: p.labels, note };
    })
    .filter((p) => p.at != null);
}
