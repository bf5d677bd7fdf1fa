// Moving through a task's frames: the scrubber, the frame label, play/pause (Timeline), and
// the frame images, fetched and decoded ahead (createImageBitmap) around the current frame
// (FrameCache), so that stepping to a neighbouring frame only has to draw a decoded bitmap.

import { $ } from "./dom.js";

const PRELOAD_WATCHDOG_MS = 2500;

export class FrameCache {
  /**
   * Decoded frames (ImageBitmap) by position, the least recently used closed beyond `limit`.
   * A bitmap is closed only when nothing can draw it any more: never the frame on screen
   * (show) nor the one being waited for (want), so the canvas never meets a closed bitmap.
   */
  constructor(frames, { radius = 4, limit = 24, preloaded = null } = {}) {
    this.frames = frames;
    this.preloaded = preloaded; // the URL the page preloaded, if any
    this.radius = radius;
    this.limit = limit;
    this.entries = new Map(); // position -> {promise, bitmap, error, used}
    this.clock = 0;
    this.shown = null; // the position whose bitmap the canvas holds
    this.wanted = null; // the position the timeline waits for
    this.disposed = false;
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
          if (this.disposed) {
            bitmap.close?.(); // the task closed while it was decoding
            throw new Error("the task was closed");
          }
          entry.bitmap = bitmap;
          this._evict();
          return bitmap;
        },
        (err) => {
          entry.error = err;
          if (this.entries.get(position) === entry) this.entries.delete(position); // retry later
          throw err;
        },
      );
      this.entries.set(position, entry);
      this._evict();
    }
    entry.used = ++this.clock;
    return entry.promise;
  }

  /** The timeline waits for `position`: keep it until it is shown or another is wanted. */
  want(position) {
    this.wanted = position;
  }

  /** The canvas now holds `position`'s bitmap (the previous one may go). */
  show(position) {
    this.shown = position;
    if (this.wanted === position) this.wanted = null;
    this._evict();
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

  /** Decode the frames around `center`, nearest first; decoded(bitmap, frame) for each. */
  prefetch(center, decoded = () => {}) {
    const order = [];
    for (let d = 1; d <= this.radius; d++) order.push(center + d, center - d);
    for (const position of order) {
      if (position >= 0 && position < this.frames.length) {
        this.get(position).then((bitmap) => decoded(bitmap, this.frames[position]), () => {});
      }
    }
  }

  _evict() {
    if (this.entries.size <= this.limit) return;
    const victims = [...this.entries.entries()]
      .filter(([p, entry]) => entry.bitmap && p !== this.shown && p !== this.wanted)
      .sort((a, b) => a[1].used - b[1].used);
    while (this.entries.size > this.limit && victims.length) {
      const [position, entry] = victims.shift();
      this.entries.delete(position);
      entry.bitmap.close?.();
    }
  }

  dispose() {
    this.disposed = true;
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
    this.requested = null; // the latest frame asked for (shown, or decoding)
    this.pending = null; // the promise of showing it
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
    this.requested = null;
  }

  close() {
    this.stopPlaying();
    this.canvas.showImage(null, { draw: false }); // its bitmap is about to be closed
    this.cache?.dispose();
    this.cache = null;
    this.pending = null;
  }

  /**
   * Show the frame at `position` once its image is decoded: until then the previous frame's
   * image and shapes stay, and edits go to the frame on screen. When frames are requested
   * faster than they decode, only the latest one is shown.
   */
  async showFrame(position, { initial = false } = {}) {
    const started = performance.now();
    const editor = this.editor;
    const cache = this.cache;
    this.requested = position;
    $("scrubber").value = String(position);
    let bitmap = cache.peek(position);
    if (!bitmap) {
      cache.want(position);
      try {
        bitmap = await cache.get(position);
      } catch (err) {
        if (this.cache !== cache) return; // the task closed meanwhile
        this.notices.banner(
          "image",
          "error",
          `The image could not be loaded (${err.message}); shapes are still editable.`,
        );
      }
      if (this.cache !== cache || this.requested !== position) return; // moved on meanwhile
    }
    editor.placing = null;
    editor.setFrame(position);
    const f = editor.frames[position];
    const source = f.index != null && editor.task.kind === "video" ? ` · source #${f.index}` : "";
    $("frame-label").textContent = `Frame ${position + 1} / ${editor.frames.length}${source}`;
    this.canvas.showImage(bitmap);
    cache.show(position);
    this.frameShown();
    // Then the neighbours, in a task of its own: starting fetches costs the main thread a
    // few ms that this frame need not wait for. Their images are resampled to the view's
    // scale while the page is idle (CanvasView.prepareImage).
    const prefetch = () => {
      if (this.cache === cache) cache.prefetch(position, (b, f) => this.canvas.prepareImage(b, f));
    };
    if (initial) {
      prefetch();
      return;
    }
    await new Promise((resolve) => requestAnimationFrame(resolve));
    this.stats.frameChangeMs.push(performance.now() - started);
    setTimeout(prefetch, 0);
  }

  /** The frame shown, or the one on its way. */
  get target() {
    return this.requested ?? this.editor.frame;
  }

  setFrame(position) {
    const editor = this.editor;
    const target = Math.max(0, Math.min(editor.frames.length - 1, position));
    if (target === this.target) return this.pending ?? Promise.resolve();
    this.beforeFrameChange();
    const shown = this.showFrame(target);
    this.pending = shown;
    shown.finally(() => {
      if (this.pending === shown) this.pending = null;
    });
    return shown;
  }

  next() {
    return this.setFrame(this.target + 1);
  }

  previous() {
    return this.setFrame(this.target - 1);
  }

  togglePlay() {
    if (this.playing) return this.stopPlaying();
    const fps = Math.min(25, Math.max(2, this.fps / 2));
    $("play-button").textContent = "Pause";
    this.playing = setInterval(() => {
      if (this.target >= this.editor.frames.length - 1) this.stopPlaying();
      else if (!this.pending) this.next(); // playing waits for each frame to be shown
    }, 1000 / fps);
  }

  stopPlaying() {
    clearInterval(this.playing);
    this.playing = null;
    const button = $("play-button");
    if (button) button.textContent = "Play";
  }
}
