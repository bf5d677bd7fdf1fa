// Pure: an API answer in words. DRF answers 400 with {field: [messages]}; the services with
// {detail, code, errors: {field: [messages]}}; a spec field may be nested ("spec.input.size").
// errorsByField sorts the messages under the form's own field names, the rest under "".

// Keys that name no form field but the whole request ("project": nothing to roll back to).
const GENERAL_KEYS = ["detail", "non_field_errors", "project"];

function messages(value) {
  if (value == null) return [];
  if (Array.isArray(value)) return value.flatMap(messages);
  if (typeof value === "object") {
    return Object.entries(value).flatMap(([key, inner]) =>
      messages(inner).map((text) => `${key}: ${text}`),
    );
  }
  return [String(value)];
}

/** {field: [message, ...], "": [messages for no field]} for the answer's body. `fields` are
 *  the form's names; "spec.input.size" goes to "spec" with the rest of the path kept. */
export function errorsByField(data, fields = []) {
  const out = { "": [] };
  const add = (key, texts) => {
    if (!texts.length) return;
    (out[key] ??= []).push(...texts);
  };
  const body = data && typeof data === "object" ? data : { detail: data };
  const nested = body.errors && typeof body.errors === "object" && !Array.isArray(body.errors);
  const entries = Object.entries(nested ? body.errors : body).filter(
    ([key]) => !["code", "errors"].includes(key),
  );
  if (nested && body.detail && !Object.keys(body.errors).length) add("", messages(body.detail));
  for (const [key, value] of entries) {
    const [head, ...rest] = key.split(".");
    if (fields.includes(key)) add(key, messages(value));
    else if (fields.includes(head)) add(head, messages(value).map((t) => `${rest.join(".")}: ${t}`));
    else if (GENERAL_KEYS.includes(key)) add("", messages(value));
    else add("", messages(value).map((t) => `${key}: ${t}`));
  }
  return out;
}

/** One sentence for an answer that is not a field error. */
export function describeFailure(result) {
  if (!result) return "The server could not be reached; check the connection and try again.";
  const detail = result.data?.detail;
  if (typeof detail === "string" && detail) return detail;
  if (result.status === 403) return "Your role in this project may not do this.";
  if (result.status === 404) return "Not found: it may have been deleted.";
  if (result.status === 503) return "The job queue is unavailable; try again in a minute.";
  if (result.status >= 500) return `The server failed (${result.status}); try again later.`;
  const general = errorsByField(result.data)[""];
  return general.length ? general.join(" ") : `The request was refused (${result.status}).`;
}

/** "12 Mar 14:05" in the browser's locale; "" for none. */
export function formatWhen(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}
