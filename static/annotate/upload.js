// Upload page: drag-and-drop or pick files, send them in one multipart XHR with a progress
// bar, then list the server's per-file results. Names are inserted as text, never HTML.

const config = JSON.parse(document.getElementById("upload-config").textContent);
const form = document.getElementById("upload-form");
const input = document.getElementById("upload-files");
const zone = document.getElementById("dropzone");
const button = document.getElementById("upload-button");
const progressBox = document.getElementById("upload-progress");
const bar = document.getElementById("upload-bar");
const statusLine = document.getElementById("upload-status");
const table = document.getElementById("upload-results");

function csrfToken() {
  const field = form.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function showResults(results) {
  const body = table.tBodies[0];
  for (const result of results) {
    const row = body.insertRow();
    row.insertCell().textContent = result.name;
    const state = row.insertCell();
    state.className = `status-${result.status}`;
    state.textContent = result.asset_id ? `${result.status} (asset ${result.asset_id})` : result.status;
    row.insertCell().textContent = result.message;
  }
  table.hidden = false;
}

function upload(files) {
  if (!files.length) {
    statusLine.textContent = "Choose at least one file.";
    progressBox.hidden = false;
    return;
  }
  const data = new FormData();
  let total = 0;
  for (const file of files) {
    data.append(config.field, file, file.name);
    total += file.size;
  }
  const xhr = new XMLHttpRequest();
  xhr.open("POST", config.url);
  xhr.setRequestHeader("X-CSRFToken", csrfToken());
  xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
  xhr.responseType = "json";
  progressBox.hidden = false;
  button.disabled = true;
  bar.removeAttribute("value");
  statusLine.textContent = `Uploading ${files.length} file(s), ${formatBytes(total)}…`;

  xhr.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable) return;
    const percent = Math.round((event.loaded / event.total) * 100);
    bar.value = percent;
    statusLine.textContent =
      percent < 100
        ? `Uploading: ${percent}% of ${formatBytes(event.total)}`
        : "Uploaded; checking the files on the server…";
  });
  xhr.addEventListener("load", () => {
    button.disabled = false;
    bar.value = 100;
    const answer = xhr.response || {};
    if (Array.isArray(answer.results)) {
      showResults(answer.results);
      statusLine.textContent =
        `${answer.created} created, ${answer.duplicates} duplicate(s), ${answer.errors} error(s).`;
    } else if (answer.files) {
      statusLine.textContent = answer.files.join(" ");
    } else if (answer.detail) {
      statusLine.textContent = answer.detail;
    } else {
      statusLine.textContent = `The upload failed (HTTP ${xhr.status}).`;
    }
    input.value = "";
  });
  xhr.addEventListener("error", () => {
    button.disabled = false;
    statusLine.textContent = "The upload failed: the connection was lost.";
  });
  xhr.send(data);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  upload(Array.from(input.files));
});
for (const name of ["dragenter", "dragover"]) {
  zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
}
for (const name of ["dragleave", "drop"]) {
  zone.addEventListener(name, () => zone.classList.remove("over"));
}
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  upload(Array.from(event.dataTransfer.files));
});
