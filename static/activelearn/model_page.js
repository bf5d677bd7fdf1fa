// The Model & queue page: model versions, scoring runs with live progress, the ranked queue,
// each keypoint's error by version (joint mastery), the random audit's figures and the budget burn-down with the audit's forecast. The server decided in the template what this role may see; the
// config (json_script) names only endpoints this user may call.
import { request } from "../annotate/api.js";
import { loadAudit } from "./audit.js";
import { forecastForBurndown } from "./audit_geometry.js";
import { drawBurndown } from "./burndown.js";
import { pickMeasure } from "./burndown_geometry.js";
import { loadJoints } from "./joints.js";
import { RankedQueue } from "./queue_table.js";
import { Runs } from "./runs.js";
import { Versions } from "./versions.js";

const config = JSON.parse(document.getElementById("model-page-config").textContent);

async function loadBurndown(audit) {
  const section = document.getElementById("burndown");
  if (!section || !config.urls.burndown) return;
  try {
    const result = await request("GET", config.urls.burndown);
    if (!result.ok) return;
    // The audit's forecast of what the rest of the budget buys, dashed, on the same axes.
    const forecast = audit && audit.figures ? audit.figures.forecast : null;
    drawBurndown(section, result.data, { forecast: forecastForBurndown(forecast, pickMeasure(result.data)) });
  } catch {
    // offline: the rest of the page works without the plot
  }
}

const queue = new RankedQueue(config);
const runs = new Runs(config, {
  onFinished: () => {
    queue.load(); // a finished run reordered the queue
    versions.load(); // and may have measured its version
  },
});
const versions = new Versions(config, { onRunStarted: () => runs.watch() });

Promise.all([versions.load(), queue.load(), loadAudit(config).then(loadBurndown), loadJoints(config)]).finally(() => {
  runs.watch();
  document.documentElement.dataset.pageReady = "1";
});
