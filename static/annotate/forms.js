// DOM helpers of the job pages (Exports, Model & queue): build elements, send a multipart
// form with the CSRF token, show field errors next to their fields.
import { csrfToken, NetworkError } from "./api.js";
import { errorsByField } from "./errors.js";

/** h("td", {class: "num"}, "3", childNode) - text goes in as text, never as markup. */
export function h(name, attrs = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** POST a FormData. Resolves to {status, ok, data}; rejects with NetworkError when offline. */
export async function sendForm(url, formData) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      body: formData,
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    });
  } catch (err) {
    throw new NetworkError(err.message || "network error");
  }
  let data = {};
  if ((response.headers.get("content-type") || "").includes("application/json")) {
    data = await response.json().catch(() => ({}));
  }
  return { status: response.status, ok: response.ok, data };
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll(".field.invalid")) node.classList.remove("invalid");
}

/** Put each message under its field (the .field that holds [name=field]); the rest go into
 *  the form's general error line. Returns the general messages. */
export function showErrors(form, data, general) {
  clearErrors(form);
  const names = [...form.elements].map((el) => el.name).filter(Boolean);
  const errors = errorsByField(data, names);
  for (const [name, texts] of Object.entries(errors)) {
    if (!name || !texts.length) continue;
    const field = form.elements[name]?.closest?.(".field");
    if (!field) {
      errors[""].push(...texts);
      continue;
    }
    field.classList.add("invalid");
    for (const text of texts) field.append(h("p", { class: "field-error", role: "alert", dataset: { field: name } }, text));
  }
  if (general) {
    general.textContent = errors[""].join(" ");
    general.className = "status-line error";
  }
  return errors[""];
}

export function say(line, text, kind = "") {
  line.textContent = text;
  line.className = `status-line ${kind}`.trim();
}

/** Run `tick` now and then every `seconds` while it resolves true. start() while a tick is
 *  under way runs one more tick after it, so a job started meanwhile is never missed. */
export function poller(tick, seconds) {
  let timer = null;
  let running = false;
  let again = false;
  const loop = async () => {
    timer = null;
    running = true;
    again = false;
    let more = false;
    try {
      more = await tick();
    } catch {
      more = true; // a dropped request is tried again on the next beat
    }
    running = false;
    if (more || again) timer = setTimeout(loop, seconds * 1000);
  };
  return {
    start() {
      if (running) {
        again = true;
        return;
      }
      if (timer !== null) clearTimeout(timer);
      loop();
    },
  };
}
