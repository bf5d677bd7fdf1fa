// The Exports page: start an export, watch it until it is done, download it; start an import
// and read its report. Jobs are polled every few seconds while one is queued or running.
import { request } from "./api.js";
import { describeFailure } from "./errors.js";
import { exportRow, importRow, isLive } from "./exports_rows.js";
import { clearErrors, poller, say, sendForm, showErrors } from "./forms.js";

const config = JSON.parse(document.getElementById("exports-page-config").textContent);
const { labels, urls } = config;

function renderList(kind, jobs, row) {
  const table = document.getElementById(`${kind}-table`);
  table.tBodies[0].replaceChildren(...jobs.map((job) => row(job, labels)));
  table.hidden = !jobs.length;
  document.getElementById(`${kind}-empty`).hidden = jobs.length > 0;
}

async function loadList(kind, address, row, status) {
  let result;
  try {
    result = await request("GET", address);
  } catch {
    return true; // offline: the next beat tries again
  }
  if (!result.ok) {
    say(status, `The ${kind} could not be loaded: ${describeFailure(result)}`, "error");
    return false;
  }
  renderList(kind, result.data, row);
  return result.data.some(isLive);
}

const exportStatus = document.getElementById("export-status");
const importStatus = document.getElementById("import-status");
const polls = {
  exports: poller(() => loadList("exports", urls.exports, exportRow, exportStatus), config.poll_seconds),
  imports: urls.imports
    ? poller(() => loadList("imports", urls.imports, importRow, importStatus), config.poll_seconds)
    : null,
};

function started(result, status, what) {
  if (result?.status === 202) {
    say(status, `${what} #${result.data.id} started; it shows below when it is done.`, "ok");
  } else if (result?.status === 503) {
    say(status, result.data.error || describeFailure(result), "error");
  }
}

const exportForm = document.getElementById("export-form");
// Options that apply to some formats only are shown (and sent) for those formats.
const formatSelect = document.getElementById("export-format");
const formatOptions = [
  [document.getElementById("export-skeletons-field"), config.skeleton_formats],
  [document.getElementById("export-images-field"), config.image_formats],
];
const showFormatOptions = () => {
  for (const [field, formats] of formatOptions) {
    const applies = formats.includes(formatSelect.value);
    field.hidden = !applies;
    for (const input of field.querySelectorAll("select, input")) input.disabled = !applies;
  }
};
formatSelect.addEventListener("change", showFormatOptions);
showFormatOptions();
exportForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(exportForm);
  const body = Object.fromEntries([...new FormData(exportForm)].filter(([, value]) => value !== ""));
  const button = document.getElementById("export-button");
  button.disabled = true;
  let result;
  try {
    result = await request("POST", urls.exports, body);
  } catch {
    result = null;
  } finally {
    button.disabled = false;
  }
  if (result?.status === 400) showErrors(exportForm, result.data, exportStatus);
  else if (result?.status === 202 || result?.status === 503) started(result, exportStatus, "Export");
  else say(exportStatus, describeFailure(result), "error");
  polls.exports.start();
});

const importForm = document.getElementById("import-form");
if (importForm) {
  const modeSelect = document.getElementById("import-as");
  const versionField = document.getElementById("import-version-field");
  const showVersion = () => {
    versionField.hidden = modeSelect.value !== "predictions";
  };
  modeSelect.addEventListener("change", showVersion);
  showVersion();
  importForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(importForm);
    const data = new FormData(importForm);
    if (modeSelect.value !== "predictions") data.delete("model_version");
    if (!document.getElementById("import-file").files.length) data.delete("file");
    const button = document.getElementById("import-button");
    button.disabled = true;
    say(importStatus, "Uploading…");
    let result;
    try {
      result = await sendForm(urls.imports, data);
    } catch {
      result = null;
    } finally {
      button.disabled = false;
    }
    if (result?.status === 400) showErrors(importForm, result.data, importStatus);
    else if (result?.status === 202 || result?.status === 503) {
      started(result, importStatus, "Import");
      importForm.reset();
      showVersion();
    } else say(importStatus, describeFailure(result), "error");
    polls.imports.start();
  });
}

polls.exports.start();
polls.imports?.start();
