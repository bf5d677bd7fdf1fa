// Pure geometry of the learning-curve plot (no DOM): data points to SVG coordinates.

/** Scale points {labels, value} into a box of `width` x `height` with `pad` margins.
 *  x: labels spent, from 0 to the most; y: the metric, from 0 to 1 (or its maximum above 1). */
export function curveLayout(points, { width = 480, height = 200, pad = 36 } = {}) {
  const maxLabels = Math.max(1, ...points.map((p) => p.labels));
  const maxValue = Math.max(1, ...points.map((p) => p.value));
  const x = (labels) => pad + (labels / maxLabels) * (width - 2 * pad);
  const y = (value) => height - pad - (value / maxValue) * (height - 2 * pad);
  return {
    width,
    height,
    pad,
    maxLabels,
    maxValue,
    coords: points.map((p) => ({ ...p, cx: x(p.labels), cy: y(p.value) })),
  };
}

/** The `points` attribute of an SVG polyline through the coordinates. */
export function polylinePoints(coords) {
  return coords.map((c) => `${c.cx.toFixed(1)},${c.cy.toFixed(1)}`).join(" ");
}
