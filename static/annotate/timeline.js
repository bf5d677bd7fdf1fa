// Moving through a task's frames: the scrubber, the frame label, play/pause (Timeline), and
// the frame images, fetched and decoded ahead (createImageBitmap) around the current frame
// (FrameCache), so that stepping to a neighbouring frame only has to draw a decoded bitmap.

import { $ } from "./dom.js";

const PRELOAD_WATCHDOG_MS = 2500;

export class FrameCache {
  constructor(frames, { radius = 4, limit = 24, preloaded = null } = {}) {
    this.frames = frames;
    this.preloaded = preloaded; // the URL the page preloaded, if any
    this.radius = radius;
    this.limit = limit;
    this.entries = new Map(); // position -> {promise, bitmap, error, used}
    this.clock = 0;
  }

  peek(position) {
    const entry = this.entries.get(position);
    if (entry) entry.used = ++this.clock;
    return entry?.bitmap ?? null;
  }

  get(position) {
    let entry = this.entries.get(position);
    if (!entry) {
      entry = { bitmap: null, error: null, used: ++this.clock };
      entry.promise = this._load(this.frames[position].url).then(
        (bitmap) => {
          entry.bitmap = bitmap;
          return bitmap;
        },
        (err) => {
          entry.error = err;
          this.entries.delete(position); // try again next time
          throw err;
        },
      );
      this.entries.set(position, entry);
      this._evict(position);
    }
    entry.used = ++this.clock;
    return entry.promise;
  }

  async _load(url) {
    const attempt = (init = {}) =>
      fetch(url, { credentials: "same-origin", ...init }).then(async (response) => {
        if (!response.ok) throw new Error(`image HTTP ${response.status}`);
        return createImageBitmap(await response.blob());
      });
    if (url !== this.preloaded) return attempt();
    // The page preloads its first image (<link rel=preload as=fetch>). Taking over a preload
    // has been seen to stall now and then in headless chromium: if it does, fetch it anew.
    let timer;
    const fresh = new Promise((resolve, reject) => {
      timer = setTimeout(
        () => attempt({ cache: "reload" }).then(resolve, reject),
        PRELOAD_WATCHDOG_MS,
      );
    });
    try {
      return await Promise.race([attempt(), fresh]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Decode the frames around `center`, nearest first. */
  prefetch(center) {
    const order = [];
    for (let d = 1; d <= this.radius; d++) order.push(center + d, center - d);
    for (const position of order) {
      if (position >= 0 && position < this.frames.length) this.get(position).catch(() => {});
    }
  }

  _evict(keep) {
    if (this.entries.size <= this.limit) return;
    const victims = [...this.entries.entries()]
      .filter(([position, entry]) => position !== keep && entry.bitmap)
      .sort((a, b) => a[1].used - b[1].used);
    while (this.entries.size > this.limit && victims.length) {
      const [position, entry] = victims.shift();
      entry.bitmap.close?.();
      this.entries.delete(position);
    }
  }

  dispose() {
    for (const entry of this.entries.values()) entry.bitmap?.close?.();
    this.entries.clear();
  }
}

export class Timeline {
  /**
   * beforeFrameChange(): called when the annotator leaves a frame (the draft is saved then);
   * frameShown(): the new frame's image and shapes are drawn (panels follow).
   * stats.frameChangeMs collects how long each frame change took (benchmarks/ui.py).
   */
  constructor(editor, { canvas, notices, stats, beforeFrameChange, frameShown }) {
    this.editor = editor;
    this.canvas = canvas;
    this.notices = notices;
    this.stats = stats;
    this.beforeFrameChange = beforeFrameChange;
    this.frameShown = frameShown;
    this.cache = null;
    this.fps = 10;
    this.playing = null; // the interval timer while playing
  }

  bind() {
    $("scrubber").addEventListener("input", (e) => this.setFrame(Number(e.target.value)));
  }

  /** A task opened: frames = [{url, width, height, index}]; preloaded: the page's preload. */
  open(frames, { fps, preloaded }) {
    this.cache = new FrameCache(frames, { preloaded });
    this.fps = fps || 10;
    $("timeline").hidden = frames.length <= 1;
    const scrubber = $("scrubber");
    scrubber.max = String(Math.max(0, frames.length - 1));
    scrubber.value = "0";
  }

  close() {
    this.stopPlaying();
    this.cache?.dispose();
    this.cache = null;
  }

  async showFrame(position, { initial = false } = {}) {
    const started = performance.now();
    const editor = this.editor;
    editor.setFrame(position);
    $("scrubber").value = String(position);
    const f = editor.frames[position];
    const source = f.index != null && editor.task.kind === "video" ? ` · source #${f.index}` : "";
    $("frame-label").textContent = `Frame ${position + 1} / ${editor.frames.length}${source}`;
    let bitmap = this.cache.peek(position);
    if (!bitmap) {
      try {
        bitmap = await this.cache.get(position);
      } catch (err) {
        this.notices.banner(
          "image",
          "error",
          `The image could not be loaded (${err.message}); shapes are still editable.`,
        );
      }
      if (editor.frame !== position) return; // the user moved on meanwhile
    }
    this.canvas.showImage(bitmap);
    this.frameShown();
    this.cache.prefetch(position);
    if (!initial) {
      await new Promise((resolve) => requestAnimationFrame(resolve));
      this.stats.frameChangeMs.push(performance.now() - started);
    }
  }

  setFrame(position) {
    const editor = this.editor;
    const target = Math.max(0, Math.min(editor.frames.length - 1, position));
    if (target === editor.frame) return Promise.resolve();
    editor.placing = null;
    this.beforeFrameChange();
    return this.showFrame(target);
  }

  next() {
    return this.setFrame(this.editor.frame + 1);
  }

  previous() {
    return this.setFrame(this.editor.frame - 1);
  }

  togglePlay() {
    if (this.playing) return this.stopPlaying();
    const fps = Math.min(25, Math.max(2, this.fps / 2));
    $("play-button").textContent = "Pause";
    this.playing = setInterval(() => {
      if (this.editor.frame >= this.editor.frames.length - 1) this.stopPlaying();
      else this.next();
    }, 1000 / fps);
  }

  stopPlaying() {
    clearInterval(this.playing);
    this.playing = null;
    const button = $("play-button");
    if (button) button.textContent = "Play";
  }
}
