// Tracks on a video task: the track list (where each track is present, checkboxes for
// merging and swapping), the selected track's status on this frame, its keyframe ticks on the
// timeline, the likely identity switches (track_risk.js) with jump-to, and the track commands
// (outside, previous/next keyframe, copy to the next frame, extend, split, merge, swap, delete
// a whole track). The track logic itself is in model.js.
//
// Other modules add their own commands to the panel with addTrackAction() (propagation does).

import {
  adjacentKeyframe,
  copyToFrame,
  deleteTrack,
  extendTrack,
  keyframesOf,
  mergeTracks,
  presence,
  removeShape,
  splitTrack,
  swapProblem,
  swapTracks,
  toggleOutside,
  trackList,
  typesOf,
} from "./model.js";
import { presentRanges } from "./interpolate.js";
import { describeRisk, identityRisks } from "./track_risk.js";
import { $ } from "./dom.js";

const RISK_DELAY_MS = 300; // risks are recomputed this long after the last change
const RISKS_SHOWN = 200;

const actions = []; // [{id, label, title, run}] added by other modules
let panel = null; // the page's Tracks, once built

/**
 * A button in the track panel for another module's command (propagation, say).
 * run(context) gets {editor, frame, selection, checked: [track numbers], goToFrame, notices}.
 */
export function addTrackAction({ id, label, title = "", run }) {
  actions.push({ id, label, title, run });
  panel?.renderActions();
}

export class Tracks {
  /** goToFrame(position): show another frame (the Timeline's setFrame). */
  constructor(editor, { notices, goToFrame }) {
    this.editor = editor;
    this.notices = notices;
    this.goToFrame = goToFrame;
    this.rows = new Map(); // track number -> {li, signature}
    this.selectedRow = null;
    this.risks = [];
    this.riskTimer = null;
    this.riskRevision = -1;
    this.picking = null; // {track, frame} while the partner of a swap is being chosen
    panel = this;
  }

  /** A task opened: a fresh list. */
  open() {
    this.cancelPick();
    this.rows.clear();
    this.selectedRow = null;
    this.risks = [];
    this.riskRevision = -1;
    $("track-list").replaceChildren();
    $("track-risks").replaceChildren();
    $("track-risks-panel").hidden = true;
    this.renderActions();
    this.render();
  }

  /** The document changed: rows whose track changed are redrawn, risks recomputed soon. */
  render() {
    this.renderKeyframeTicks();
    if (!this.editor.useTracks) return;
    const { editor } = this;
    const list = $("track-list");
    const seen = new Set();
    let previous = null;
    for (const track of trackList(editor.doc, editor.frames.length, editor.index())) {
      seen.add(track.number);
      const signature = JSON.stringify([
        track.label,
        [...track.types],
        track.ranges,
        track.keyframes,
        track.outside,
        editor.colors[track.label],
        editor.frames.length,
      ]);
      let row = this.rows.get(track.number);
      if (!row || row.signature !== signature) {
        const li = this.trackRow(track, row?.li.querySelector("input")?.checked ?? false);
        if (row) row.li.replaceWith(li);
        row = { li, signature };
        this.rows.set(track.number, row);
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (row.li !== expected) list.insertBefore(row.li, expected);
      previous = row.li;
    }
    for (const [number, row] of this.rows) {
      if (!seen.has(number)) {
        row.li.remove();
        this.rows.delete(number);
      }
    }
    this.selectedRow = null;
    this.frameChanged();
    this.scheduleRisks();
  }

  /** Another frame is shown, or another track selected: only the status and highlight. */
  frameChanged() {
    if (!this.editor.useTracks) return;
    const { editor } = this;
    const number = editor.selection?.track ?? null;
    const row = number != null ? this.rows.get(number)?.li : null;
    if (row !== this.selectedRow) {
      this.selectedRow?.classList.remove("selected");
      row?.classList.add("selected");
      row?.scrollIntoView?.({ block: "nearest" });
      this.selectedRow = row ?? null;
    }
    const status = $("track-status");
    if (number == null || !editor.doc.tracks[number]) {
      status.textContent = this.picking ? "" : "Select a track: click it here or on the image.";
      status.dataset.present = "";
      return;
    }
    const label = editor.doc.tracks[number].label;
    const here = presence(editor.doc, number, editor.frame, editor.index());
    status.dataset.present = String(here.present);
    status.textContent = here.present
      ? `#${number} ${label} on this frame.`
      : `#${number} ${label} is not on this frame: ${here.reason}. Drag on the image (select tool) to draw it here, or press o to bring it back.`;
  }

  trackRow(track, checked) {
    const editor = this.editor;
    const total = Math.max(1, editor.frames.length);
    const li = document.createElement("li");
    li.dataset.track = String(track.number);
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
    const spans = track.ranges.map(([a, b]) => (a === b ? `${a + 1}` : `${a + 1}–${b + 1}`));
    extent.textContent =
      `${spans.length ? `frames ${spans.join(", ")}` : "never on screen"} · ${track.keyframes} key` +
      (track.outside ? ` · ${track.outside} outside` : "");
    const bar = document.createElement("div");
    bar.className = "extent";
    for (const [a, b] of track.ranges) {
      const fill = document.createElement("span");
      fill.style.left = `${(a / total) * 100}%`;
      fill.style.width = `${Math.max(1.5, ((b - a + 1) / total) * 100)}%`;
      fill.style.background = editor.colors[track.label] || "#888";
      bar.append(fill);
    }
    li.append(box, name, extent, bar);
    li.addEventListener("click", () => this.rowClicked(track.number));
    return li;
  }

  /** A track in the list was clicked: it is selected on the frame shown (no jump). */
  rowClicked(number) {
    if (this.pick(number)) return;
    const types = typesOf(this.editor.doc, number);
    const here = presence(this.editor.doc, number, this.editor.frame, this.editor.index());
    this.editor.selectedPoint = null;
    this.editor.select({ track: number, type: here.type ?? types[0] ?? "box" });
  }

  renderKeyframeTicks() {
    const ticks = $("keyframe-ticks");
    if (!ticks) return;
    ticks.replaceChildren();
    const { selection, frames, doc } = this.editor;
    if (selection?.track == null || frames.length < 2) return;
    const index = this.editor.index();
    const span = frames.length - 1;
    const keyframes = index.groups.get(`${selection.type}:${selection.track}`) ?? [];
    for (const [a, b] of presentRanges(keyframes, frames.length)) {
      const range = document.createElement("span");
      range.className = "range";
      range.style.left = `${(a / span) * 100}%`;
      range.style.width = `${((b - a) / span) * 100}%`;
      ticks.append(range);
    }
    const outside = new Set(keyframes.filter((k) => k.outside).map((k) => k.frame));
    for (const frame of keyframesOf(doc, selection.track, index)) {
      const tick = document.createElement("span");
      tick.className = outside.has(frame) ? "tick outside" : "tick";
      tick.style.left = `${(frame / span) * 100}%`;
      tick.title = `${outside.has(frame) ? "outside from" : "keyframe on"} frame ${frame + 1}`;
      ticks.append(tick);
    }
  }

  renderActions() {
    const box = $("track-actions");
    if (!box) return;
    box.replaceChildren();
    for (const action of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.trackAction = action.id;
      button.textContent = action.label;
      button.title = action.title;
      button.disabled = !this.editor.editable;
      button.addEventListener("click", () =>
        action.run({
          editor: this.editor,
          frame: this.editor.frame,
          selection: this.editor.selection,
          checked: this.checked(),
          goToFrame: this.goToFrame,
          notices: this.notices,
        }),
      );
      box.append(button);
    }
  }

  // -- likely identity switches ----------------------------------------------------------

  /** Soon after the last change, when the page is idle (it scans every frame's boxes). */
  scheduleRisks() {
    clearTimeout(this.riskTimer);
    this.riskTimer = setTimeout(() => {
      if (window.requestIdleCallback) requestIdleCallback(() => this.renderRisks(), { timeout: 2000 });
      else this.renderRisks();
    }, RISK_DELAY_MS);
  }

  /** Recompute the list now (also read by the browser tests). */
  renderRisks() {
    clearTimeout(this.riskTimer);
    const { editor } = this;
    if (!editor.useTracks || !editor.frames.length) return;
    if (this.riskRevision !== editor.revision) {
      const { width, height } = editor.frames[0];
      this.risks = identityRisks(editor.doc, {
        frameCount: editor.frames.length,
        width,
        height,
        index: editor.index(),
      });
      this.riskRevision = editor.revision;
    }
    const list = $("track-risks");
    list.replaceChildren();
    $("track-risks-count").textContent = this.risks.length ? `(${this.risks.length})` : "";
    for (const risk of this.risks.slice(0, RISKS_SHOWN)) {
      const li = document.createElement("li");
      li.dataset.frame = String(risk.frame);
      li.dataset.kind = risk.kind;
      const text = document.createElement("span");
      text.textContent = describeRisk(risk);
      li.append(text);
      li.addEventListener("click", () => this.goToRisk(risk));
      if (risk.kind === "overlap" && editor.editable) {
        const swap = document.createElement("button");
        swap.type = "button";
        swap.textContent = "Swap here";
        swap.title = `Swap #${risk.tracks[0]} and #${risk.tracks[1]} from the frame shown on (w)`;
        swap.addEventListener("click", (e) => {
          e.stopPropagation();
          this.swapFrom(risk.tracks[0], risk.tracks[1], editor.frame);
        });
        li.append(swap);
      }
      list.append(li);
    }
    if (this.risks.length > RISKS_SHOWN) {
      const li = document.createElement("li");
      li.className = "muted small";
      li.textContent = `… and ${this.risks.length - RISKS_SHOWN} more`;
      list.append(li);
    }
    $("track-risks-panel").hidden = !this.risks.length;
  }

  async goToRisk(risk) {
    await this.goToFrame(risk.frame);
    this.editor.selectedPoint = null;
    const type = presence(this.editor.doc, risk.tracks[0], risk.frame, this.editor.index()).type;
    this.editor.select({ track: risk.tracks[0], type: type ?? "box" });
  }

  /** ] / [: the next (or previous) likely switch after (before) the frame shown. */
  jumpToRisk(step) {
    this.renderRisks();
    const frame = this.editor.frame;
    const risk =
      step > 0
        ? this.risks.find((r) => r.frame > frame)
        : this.risks.filter((r) => r.frame < frame).pop();
    if (!risk) {
      this.notices.banner("risk", "info", `No likely identity switch ${step > 0 ? "after" : "before"} this frame.`);
      return;
    }
    this.notices.hide("risk");
    return this.goToRisk(risk);
  }

  // -- commands (each does nothing on a read-only task) ----------------------------------

  checked() {
    return [...$("track-list").querySelectorAll("input:checked")].map((i) => Number(i.value));
  }

  uncheckAll() {
    for (const input of $("track-list").querySelectorAll("input:checked")) input.checked = false;
  }

  /** o: the selected track is gone from this frame on, or back where it is gone. */
  toggleOutside() {
    const editor = this.editor;
    const sel = editor.selection;
    if (!editor.editable || sel?.track == null) return;
    let result = null;
    editor.change(() => {
      result = toggleOutside(editor.doc, sel.track, editor.frame, sel.type);
    });
    const frame = editor.frame + 1;
    this.notices.banner(
      "outside",
      "info",
      result === "outside"
        ? `Track #${sel.track} is outside from frame ${frame} (o on a later frame brings it back).`
        : `Track #${sel.track} is back from frame ${frame}.`,
    );
  }

  /** , / .: the selected track's previous or next keyframe. */
  jumpToKeyframe(step) {
    const editor = this.editor;
    const sel = editor.selection;
    if (sel?.track == null) return;
    const frame = adjacentKeyframe(editor.doc, sel.track, editor.frame, step, editor.index());
    if (frame == null) {
      this.notices.banner(
        "keyframe",
        "info",
        `Track #${sel.track} has no keyframe ${step > 0 ? "after" : "before"} this frame.`,
      );
      return;
    }
    this.notices.hide("keyframe");
    return this.goToFrame(frame);
  }

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
    const sel = editor.selection;
    if (!editor.editable || sel?.track == null) return;
    let created = null;
    editor.change(() => {
      created = splitTrack(editor.doc, sel.track, editor.frame);
      if (created) editor.selection = { track: created, type: sel.type };
    });
    if (!created) {
      this.notices.banner("split", "warn", `Track #${sel.track} has nothing on one side of this frame to split.`);
    } else {
      this.notices.banner("split", "info", `Track #${sel.track} ends here; from this frame on it is #${created}.`);
    }
  }

  /** m: the tracks checked in the list (with the selected one) become the lowest of them. */
  mergeChecked() {
    const editor = this.editor;
    if (!editor.editable) return;
    const numbers = new Set(this.checked());
    if (numbers.size === 1 && editor.selection?.track != null) numbers.add(editor.selection.track);
    if (numbers.size < 2) {
      this.notices.banner("merge", "warn", "Check two or more tracks in the list to merge them.");
      return;
    }
    editor.change(() => {
      const target = mergeTracks(editor.doc, [...numbers]);
      this.uncheckAll();
      editor.selection = target ? { track: target, type: typesOf(editor.doc, target)[0] ?? "box" } : null;
    });
    this.notices.hide("merge");
  }

  /**
   * w: swap two tracks' identities from this frame on: the two checked tracks, or the selected
   * one and the one checked; else the next track clicked (on the image or in the list).
   */
  swap() {
    const editor = this.editor;
    if (!editor.editable) return;
    const checked = this.checked();
    const selected = editor.selection?.track ?? null;
    const partners = checked.filter((n) => n !== selected);
    if (checked.length === 2) return this.swapFrom(checked[0], checked[1], editor.frame);
    if (selected != null && partners.length === 1) return this.swapFrom(selected, partners[0], editor.frame);
    if (selected == null) {
      this.notices.banner("swap", "warn", "Select a track (or check two) to swap identities.");
      return;
    }
    this.picking = { track: selected, frame: editor.frame };
    $("labeler").dataset.picking = "swap";
    this.notices.banner(
      "swap",
      "info",
      `Swap #${selected} from frame ${editor.frame + 1} on with… click the other track (Esc cancels).`,
      [{ label: "Cancel", run: () => this.cancelPick() }],
    );
  }

  /** While a swap partner is chosen, a click on a track (or on nothing) ends it. */
  pick(number) {
    if (!this.picking) return false;
    const { track, frame } = this.picking;
    this.cancelPick();
    if (number != null && number !== track) this.swapFrom(track, number, frame);
    return true;
  }

  cancelPick() {
    if (!this.picking) return;
    this.picking = null;
    delete $("labeler").dataset.picking;
    this.notices.hide("swap");
  }

  swapFrom(a, b, frame) {
    const editor = this.editor;
    const problem = swapProblem(editor.doc, a, b);
    if (problem) {
      this.notices.banner("swap", "warn", problem);
      return;
    }
    editor.change(() => swapTracks(editor.doc, a, b, frame));
    this.uncheckAll();
    this.notices.banner("swap", "info", `Tracks #${a} and #${b} swapped from frame ${frame + 1} on (Ctrl+Z undoes it).`);
  }

  /** Shift+Delete: the selected shape's whole track (an untracked shape: just it). */
  deleteTrack() {
    const editor = this.editor;
    const sel = editor.selection;
    if (!editor.editable || !sel) return;
    const item = editor.selectedItem();
    if (sel.track == null && !item) return;
    editor.change(() => {
      if (sel.track != null) deleteTrack(editor.doc, sel.track);
      else removeShape(editor.doc, item.keyframe.id);
      editor.selection = null;
    });
  }
}
