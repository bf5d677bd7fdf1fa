// Pure logic of the joint-mastery panel (no DOM): each keypoint's error by model version as
// SVG coordinates, and the words of its table cells.

export const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#008080", "#9a6324", "#800000", "#808000", "#000075", "#808080", "#ffe119", "#aaffc3", "#fabebe"];

/** One polyline per keypoint through its measured versions: x the version (oldest left),
 *  y the error from 0 (bottom) to 1; the threshold as a y. */
export function jointsLayout(report, { width = 560, height = 220, pad = 36 } = {}) {
  const n = report.versions.length;
  const x = (i) => (n <= 1 ? width / 2 : pad + (i / (n - 1)) * (width - 2 * pad));
  const y = (error) => height - pad - Math.min(1, Math.max(0, error)) * (height - 2 * pad);
  const lines = report.joints.map((joint, j) => ({
    keypoint: joint.keypoint,
    mastered: joint.mastered,
    colour: PALETTE[j % PALETTE.length],
    coords: joint.by_version
      .map((figure, i) => ({ ...figure, name: report.versions[i].name, cx: x(i), cy: figure.error == null ? null : y(figure.error) }))
      .filter((c) => c.cy != null),
  }));
  return {
    width,
    height,
    pad,
    thresholdY: y(report.threshold),
    ticks: report.versions.map((v, i) => ({ name: v.name, cx: x(i) })),
    lines,
  };
}

/** "OKS 0.912 · PCK 0.95", or an en dash when the version did not measure the keypoint. */
export function figureText(figure) {
  if (figure.oks == null) return "–";
  return `OKS ${figure.oks.toFixed(3)} · PCK ${figure.pck.toFixed(2)}`;
}

/** The rule in words: "Mastered: error under 0.15 for the last 2 versions". */
export function ruleText(report) {
  const versions = report.versions_required === 1 ? "the last version" : `the last ${report.versions_required} versions`;
  return `Mastered: error (1 − OKS) under ${report.threshold} for ${versions}`;
}
