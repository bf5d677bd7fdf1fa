// Tracks on a video task: the track list (extent bars, checkboxes for merging), the selected
// track's keyframe ticks on the timeline, and the track commands (copy to the next frame,
// extend, split, merge, delete a whole track). The track logic itself is in model.js.

import {
  copyToFrame,
  deleteTrack,
  extendTrack,
  keyframesOf,
  mergeTracks,
  removeShape,
  splitTrack,
  trackList,
} from "./model.js";
import { $ } from "./dom.js";

export class Tracks {
  /** goToFrame(position): show another frame (the Timeline's setFrame). */
  constructor(editor, { notices, goToFrame }) {
    this.editor = editor;
    this.notices = notices;
    this.goToFrame = goToFrame;
  }

  render() {
    this.renderKeyframeTicks();
    if (!this.editor.useTracks) return;
    const list = $("track-list");
    const checked = new Set(
      [...list.querySelectorAll("input:checked")].map((i) => Number(i.value)),
    );
    list.replaceChildren();
    for (const track of trackList(this.editor.doc)) {
      list.append(this.trackRow(track, checked.has(track.number)));
    }
  }

  trackRow(track, checked) {
    const editor = this.editor;
    const total = Math.max(1, editor.frames.length - 1);
    const li = document.createElement("li");
    li.dataset.track = String(track.number);
    if (editor.selection?.track === track.number) li.classList.add("selected");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = String(track.number);
    box.checked = checked;
    box.setAttribute("aria-label", `Check track ${track.number}`);
    box.addEventListener("click", (e) => e.stopPropagation());
    const name = document.createElement("span");
    const kinds = [...track.types].map((t) => (t === "box" ? "box" : "skeleton")).join("+");
    name.textContent = `#${track.number} ${track.label} (${kinds})`;
    const extent = document.createElement("span");
    extent.className = "muted small";
    extent.textContent = `frames ${track.start + 1}–${track.end + 1} · ${track.keyframes} key`;
    const bar = document.createElement("div");
    bar.className = "extent";
    const fill = document.createElement("span");
    fill.style.left = `${(track.start / total) * 100}%`;
    fill.style.width = `${Math.max(1.5, ((track.end - track.start) / total) * 100)}%`;
    fill.style.background = editor.colors[track.label] || "#888";
    bar.append(fill);
    li.append(box, name, extent, bar);
    li.addEventListener("click", () => {
      const selection = { track: track.number, type: track.types.has("box") ? "box" : "kp" };
      editor.selection = selection; // before moving, so the frame shown has it selected
      if (editor.frame < track.start || editor.frame > track.end) this.goToFrame(track.start);
      editor.select(selection);
    });
    return li;
  }

  renderKeyframeTicks() {
    const ticks = $("keyframe-ticks");
    if (!ticks) return;
    ticks.replaceChildren();
    const { selection, frames, doc } = this.editor;
    if (selection?.track == null || frames.length < 2) return;
    for (const frame of keyframesOf(doc, selection.track)) {
      const tick = document.createElement("span");
      tick.style.left = `${(frame / (frames.length - 1)) * 100}%`;
      tick.title = `keyframe on frame ${frame + 1}`;
      ticks.append(tick);
    }
  }

  // -- commands (each does nothing on a read-only task) ----------------------------------

  /** c: copy the selected shape to the next frame, and go there. */
  copyToNext() {
    const editor = this.editor;
    const item = editor.selectedItem();
    if (!editor.editable || !item || editor.frame >= editor.frames.length - 1) return;
    editor.change(() => copyToFrame(editor.doc, item, editor.frame + 1));
    return this.goToFrame(editor.frame + 1);
  }

  /** e: the selected track, not on this frame, gets a keyframe here. */
  extend() {
    const editor = this.editor;
    const sel = editor.selection;
    if (!editor.editable || sel?.track == null || editor.selectedItem()) return;
    editor.change(() => extendTrack(editor.doc, sel.track, sel.type, editor.frame));
  }

  /** x: from this frame on, the selected track is a new one (which stays selected). */
  split() {
    const editor = this.editor;
    const item = editor.selectedItem();
    if (!editor.editable || item?.track == null) return;
    editor.change(() => {
      const created = splitTrack(editor.doc, item.track, editor.frame);
      if (created) editor.selection = { track: created, type: item.type };
    });
  }

  /** The tracks checked in the list become the lowest-numbered of them. */
  mergeChecked() {
    const editor = this.editor;
    if (!editor.editable) return;
    const checked = () => $("track-list").querySelectorAll("input:checked");
    const numbers = [...checked()].map((i) => Number(i.value));
    if (numbers.length < 2) {
      this.notices.banner("merge", "warn", "Check two or more tracks in the list to merge them.");
      return;
    }
    editor.change(() => {
      const target = mergeTracks(editor.doc, numbers);
      for (const input of checked()) input.checked = false;
      editor.selection = target ? { track: target, type: "box" } : null;
    });
  }

  /** Shift+Delete: the selected shape's whole track (an untracked shape: just it). */
  deleteTrack() {
    const editor = this.editor;
    const item = editor.selectedItem();
    if (!editor.editable || !item) return;
    editor.change(() => {
      if (item.track != null) deleteTrack(editor.doc, item.track);
      else removeShape(editor.doc, item.keyframe.id);
      editor.selection = null;
    });
  }
}
