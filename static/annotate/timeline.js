// Moving through a task's frames: the scrubber, the frame label, play/pause, and the frame
// images (decoded ahead by a FrameCache, so the next frame is usually drawn at once).

import { FrameCache } from "./frames.js";
import { $ } from "./dom.js";

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
