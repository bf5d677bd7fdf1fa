// The page's API client and draft saver: fetch with the CSRF token, retries with backoff,
// a draft kept in localStorage until the server has it, and the answers that must never lose
// work (401: log in again and we retry; 409: keep the work, offer reload or overwrite).

export function csrfToken() {
  // Read on every request: logging in again rotates the token.
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

export class NetworkError extends Error {}

/** One JSON request. Resolves to {status, ok, data}; rejects only when the network fails. */
export async function request(method, url, body = undefined, { keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = csrfToken();
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      keepalive,
    });
  } catch (err) {
    throw new NetworkError(err.message || "network error");
  }
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  return { status: response.status, ok: response.ok, data: data ?? {} };
}

/** An expired session: 401, or DRF's 403 "credentials were not provided". */
export function isAuthProblem(result) {
  if (result.status === 401) return true;
  const detail = String(result.data?.detail ?? "");
  return result.status === 403 && /credentials were not provided|not authenticated/i.test(detail);
}

function isRetryable(result) {
  return result.status >= 500 || result.status === 429 || result.status === 408;
}

export const BACKOFF_SECONDS = [1, 2, 4, 8, 15, 30];

// -- drafts kept in this browser -------------------------------------------------------

const DRAFT_PREFIX = "annotate:draft:";

export function loadLocalDraft(taskId) {
  try {
    return JSON.parse(localStorage.getItem(DRAFT_PREFIX + taskId) || "null");
  } catch {
    return null;
  }
}

export function storeLocalDraft(taskId, draft) {
  try {
    localStorage.setItem(DRAFT_PREFIX + taskId, JSON.stringify({ ...draft, storedAt: Date.now() }));
    return true;
  } catch {
    return false; // full or disabled storage: the server copy is then the only one
  }
}

/** Forget drafts of this browser older than `days` (the server has had them long since). */
export function pruneLocalDrafts(days = 30) {
  try {
    const cutoff = Date.now() - days * 86_400_000;
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const key = localStorage.key(i);
      if (!key?.startsWith(DRAFT_PREFIX)) continue;
      const draft = JSON.parse(localStorage.getItem(key) || "null");
      if (!draft || (draft.storedAt ?? 0) < cutoff) localStorage.removeItem(key);
    }
  } catch {
    /* storage unavailable: nothing to prune */
  }
}

export function clearLocalDraft(taskId) {
  try {
    localStorage.removeItem(DRAFT_PREFIX + taskId);
  } catch {
    /* nothing to clear */
  }
}

/**
 * Saves the draft: autosave every `intervalMs` while there are changes, on demand (frame
 * change, page hide), one request at a time. `hooks` tell the page what happened:
 *   status(kind, text)  kind in saved | saving | dirty | retrying | error | blocked
 *   saved(version), invalid(data), conflict(data), schemaChanged(data), notEditable(data),
 *   auth(), leaseLost(data)
 */
export class DraftSaver {
  constructor({ taskId, url, baseVersion, serialize, snapshot, hooks, intervalMs = 3000 }) {
    this.taskId = taskId;
    this.url = url;
    this.baseVersion = baseVersion;
    this.serialize = serialize; // () => {payload, where}
    this.snapshot = snapshot; // () => plain document for localStorage
    this.hooks = hooks;
    this.dirty = false;
    this.blocked = null; // "conflict" | "invalid" | "schema" | "locked": waits for the user
    this.inFlight = null;
    this.failures = 0;
    this.retryAt = 0;
    this.retryTimer = null;
    this.changeCount = 0;
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  stop() {
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
  }

  /** The document changed: keep it in the browser at once, send it soon. */
  markDirty() {
    this.dirty = true;
    this.changeCount += 1;
    if (this.blocked === "invalid") this.blocked = null; // a fix may have been made
    storeLocalDraft(this.taskId, {
      baseVersion: this.baseVersion,
      doc: this.snapshot(),
      dirty: true,
    });
    if (!this.blocked && !this.retryTimer) this.hooks.status("dirty", "Unsaved changes");
  }

  tick() {
    if (this.dirty && !this.blocked && !this.inFlight && !this.retryTimer) this.save();
  }

  /** Save now unless blocked; resolves to true when the server has the current draft. */
  async save({ force = false } = {}) {
    if (this.inFlight) {
      await this.inFlight;
      if (!this.dirty) return true;
    }
    if (!this.dirty && !force) return true;
    if (this.blocked && !force) return false;
    if (this.flushedAt === this.changeCount && !force) return false; // sent by flushOnExit
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.inFlight = this._send(force);
    try {
      return await this.inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  async _send(force) {
    const { payload } = this.serialize();
    const changesAtSend = this.changeCount;
    this.sendingChanges = changesAtSend;
    this.hooks.status("saving", "Saving…");
    let result;
    try {
      result = await request("PUT", this.url, { base_version: this.baseVersion, force, payload });
    } catch (err) {
      this._retryLater(`network error (${err.message})`);
      return false;
    }
    if (result.ok) {
      this.failures = 0;
      this.baseVersion = result.data.version;
      this.blocked = null;
      if (this.changeCount === changesAtSend) {
        this.dirty = false;
        storeLocalDraft(this.taskId, {
          baseVersion: this.baseVersion,
          doc: this.snapshot(),
          dirty: false,
        });
      } else {
        storeLocalDraft(this.taskId, {
          baseVersion: this.baseVersion,
          doc: this.snapshot(),
          dirty: true,
        });
      }
      this.hooks.saved(result.data.version);
      this.hooks.status(
        this.dirty ? "dirty" : "saved",
        this.dirty ? "Unsaved changes" : `Saved · version ${result.data.version}`,
      );
      return !this.dirty;
    }
    return this.handleError(result, { retry: true });
  }

  /** Shared by saves and submits: turn an error answer into the page's state. */
  handleError(result, { retry }) {
    const data = result.data || {};
    if (isAuthProblem(result)) {
      this.hooks.auth();
      if (retry) this._retryLater("your session expired; log in again", 5);
      return false;
    }
    if (result.status === 400) {
      this.blocked = "invalid";
      this.hooks.invalid(data);
      this.hooks.status("error", data.detail || "The server refused the shapes.");
      return false;
    }
    if (result.status === 409) {
      if (data.code === "version_conflict") {
        this.blocked = "conflict";
        this.hooks.conflict(data);
      } else if (data.code === "schema_changed") {
        this.blocked = "schema";
        this.hooks.schemaChanged(data);
      } else if (data.code === "lease_lost") {
        this.hooks.leaseLost(data);
      } else {
        this.blocked = "locked";
        this.hooks.notEditable(data);
      }
      this.hooks.status("blocked", data.detail || "The server refused the save.");
      return false;
    }
    if (retry && (isRetryable(result) || result.status === 403 || result.status === 404)) {
      this._retryLater(`HTTP ${result.status}${data.detail ? `: ${data.detail}` : ""}`);
      return false;
    }
    this.hooks.status("error", data.detail || `Save failed (HTTP ${result.status}).`);
    return false;
  }

  _retryLater(reason, fixedSeconds = null) {
    const delay =
      fixedSeconds ?? BACKOFF_SECONDS[Math.min(this.failures, BACKOFF_SECONDS.length - 1)];
    this.failures += 1;
    this.retryAt = Date.now() + delay * 1000;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.save();
    }, delay * 1000);
    this.hooks.status(
      "retrying",
      `Save failed (${reason}); kept in this browser, retrying in ${delay} s (attempt ${this.failures})`,
    );
  }

  /** The server already holds exactly this draft as `version`: take that number. */
  adopt(version) {
    this.baseVersion = version;
    this.blocked = null;
    this.dirty = false;
    storeLocalDraft(this.taskId, { baseVersion: version, doc: this.snapshot(), dirty: false });
    this.hooks.status("saved", `Saved · version ${version}`);
  }

  /** Send the draft while the page goes away; the local copy stays either way. */
  flushOnExit() {
    if (!this.dirty || this.blocked || this.flushedAt === this.changeCount) return;
    if (this.inFlight && this.sendingChanges === this.changeCount) return; // already on its way
    this.flushedAt = this.changeCount; // pagehide and beforeunload both call this
    const { payload } = this.serialize();
    request(
      "PUT",
      this.url,
      { base_version: this.baseVersion, force: false, payload },
      { keepalive: true },
    ).catch(() => {});
  }
}
