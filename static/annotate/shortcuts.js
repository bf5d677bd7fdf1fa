// Keys, buttons and commands: one table of shortcuts drives both the key handling and the `?`
// overlay; the Shortcuts class sends keys and [data-action] buttons to the page's commands,
// and createCommands says what each command does.

import { deleteTrack, removeShape } from "./model.js";
import { $ } from "./dom.js";

export const SHORTCUTS = [
  {
    keys: ["v", "Escape"],
    action: "tool-select",
    help: "Select / move / resize tool (Esc also ends a skeleton)",
  },
  { keys: ["b"], action: "tool-box", help: "Draw boxes" },
  { keys: ["k"], action: "tool-keypoints", help: "Place skeleton points in order" },
  { keys: ["n"], action: "skip-point", help: "Skip the next skeleton point (not labeled)" },
  {
    keys: ["o"],
    action: "outside-or-visibility",
    help: "Track: outside from this frame on / back in (with a skeleton point selected: its visibility, visible → occluded → not labeled)",
  },
  { keys: ["Shift+o"], action: "toggle-outside", help: "Track: outside from this frame on / back in" },
  {
    keys: ["q"],
    action: "toggle-occluded",
    help: "Occluded: the selected shape's flag on / off (on a track: from this frame)",
  },
  {
    keys: ["Shift+1 … Shift+9"],
    action: "attribute",
    help: "The selected shape's 1st … 9th attribute: flip a checkbox, next value of a select, type a number or text (Enter: back to the image); a mutable one changes from this frame on, an immutable one on the whole track",
  },
  {
    keys: ["Delete", "Backspace"],
    action: "delete",
    help: "Delete the selected shape's keyframe on this frame (on a frame between keyframes: its whole track)",
  },
  {
    keys: ["Shift+Delete", "Shift+Backspace"],
    action: "delete-track",
    help: "Delete the selected shape's whole track",
  },
  { keys: ["Control+z", "Meta+z"], action: "undo", help: "Undo" },
  { keys: ["Control+Shift+z", "Meta+Shift+z", "Control+y"], action: "redo", help: "Redo" },
  { keys: ["d", "ArrowRight"], action: "next-frame", help: "Next frame" },
  { keys: ["a", "ArrowLeft"], action: "prev-frame", help: "Previous frame" },
  { keys: [" "], action: "play", help: "Play / pause" },
  { keys: [","], action: "prev-keyframe", help: "The selected track's previous keyframe" },
  { keys: ["."], action: "next-keyframe", help: "The selected track's next keyframe" },
  { keys: ["c"], action: "copy-next", help: "Copy the selected shape to the next frame" },
  { keys: ["x"], action: "split-track", help: "Split the selected track at this frame" },
  {
    keys: ["w"],
    action: "swap-tracks",
    help: "Swap two tracks' identities from this frame on (the checked two, or the selected and the next one clicked)",
  },
  {
    keys: ["m"],
    action: "merge-tracks",
    help: "Merge the checked tracks (with the selected one) into the lowest number",
  },
  { keys: ["]"], action: "next-risk", help: "Next likely identity switch (track panel)" },
  { keys: ["["], action: "prev-risk", help: "Previous likely identity switch" },
  {
    keys: ["e"],
    action: "extend-track",
    help: "Extend the selected track to this frame (a keyframe copied from its nearest one)",
  },
  {
    keys: ["Enter"],
    action: "accept-suggestion",
    help: "Accept the selected model suggestion (else the first on this frame)",
  },
  {
    keys: ["Shift+Enter"],
    action: "confirm-shown",
    help: "Confirm all that is shown on this frame: the dimmed pre-filled skeleton points and the model's suggestions",
  },
  {
    keys: ["p"],
    action: "propagate-forward",
    help: "Propagate the selected track (or all) forward by optical flow",
  },
  { keys: ["Shift+p"], action: "propagate-backward", help: "Propagate backward" },
  { keys: ["f"], action: "fit", help: "Fit the image to the screen" },
  { keys: ["h"], action: "toggle-shapes", help: "Hide or show the shapes (look at the image)" },
  {
    keys: ["Tab"],
    action: "select-next",
    help: "Select the next shape on this frame (image focused)",
  },
  { keys: ["Shift+Tab"], action: "select-prev", help: "Select the previous shape on this frame" },
  { keys: ["+", "="], action: "zoom-in", help: "Zoom in (or the mouse wheel)" },
  { keys: ["-"], action: "zoom-out", help: "Zoom out" },
  { keys: ["Control+s", "Meta+s"], action: "save", help: "Save the draft now" },
  {
    keys: ["Control+Enter", "Meta+Enter"],
    action: "submit",
    help: "Submit and go to the next task",
  },
  { keys: ["?"], action: "help", help: "Show or hide these shortcuts" },
];

/** "Control+Shift+z" style name of a key event (the key itself lower-cased when a letter). */
export function keyName(event) {
  const parts = [];
  if (event.ctrlKey) parts.push("Control");
  if (event.metaKey) parts.push("Meta");
  if (event.altKey) parts.push("Alt");
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (event.shiftKey && (key.length > 1 || /[a-z]/.test(key))) parts.push("Shift");
  parts.push(key);
  return parts.join("+");
}

export function actionFor(event, classHotkeys = {}) {
  // By the key's place, not its character: Shift+1 is "!" on one layout and "1" on another.
  const digit = /^Digit([1-9])$/.exec(event.code ?? "");
  if (digit && event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey) {
    return { action: "attribute", position: Number(digit[1]) };
  }
  const name = keyName(event);
  for (const shortcut of SHORTCUTS)
    if (shortcut.keys.includes(name)) return { action: shortcut.action };
  if (!event.ctrlKey && !event.metaKey && !event.altKey && classHotkeys[name]) {
    return { action: "class", label: classHotkeys[name] };
  }
  return null;
}

function showKey(key) {
  return key === " " ? "Space" : key.replace("Control", "Ctrl");
}

/** Fill the overlay (a DOM element) with the table, plus the project's class hotkeys. */
export function renderShortcuts(container, classes) {
  const table = document.createElement("table");
  const rows = [
    ...SHORTCUTS.map((s) => [s.keys.map(showKey), s.help]),
    ...classes
      .filter((c) => c.hotkey)
      .map((c) => [
        [c.hotkey],
        SHORTCUTS.some((s) => s.keys.includes(c.hotkey))
          ? `Class “${c.name}”: not by this key, which the page keeps (a manager can pick a free one)`
          : `Class “${c.name}” (selected shape, or the next one drawn)`,
      ]),
    [["Wheel"], "Zoom at the pointer"],
    [["Drag on empty space", "Middle button", "Alt+drag"], "Pan"],
    [
      ["Drag where the selected track is not"],
      "Draw the selected track's box on this frame (select tool)",
    ],
    [["Shift+click"], "Place a skeleton point as occluded"],
  ];
  for (const [keys, help] of rows) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    keys.forEach((k, i) => {
      if (i) th.append(" / ");
      const kbd = document.createElement("kbd");
      kbd.textContent = k;
      th.append(kbd);
    });
    const td = document.createElement("td");
    td.textContent = help;
    tr.append(th, td);
    table.append(tr);
  }
  container.replaceChildren(table);
}

/**
 * The page's keys and buttons: each key of SHORTCUTS, each [data-action] and [data-tool]
 * button, runs a command by name through run(action, extra).
 */
export class Shortcuts {
  constructor({ root, stage, hotkeys, run }) {
    this.root = root;
    this.stage = stage;
    this.hotkeys = hotkeys; // () => {key: class name} of the open task's schema
    this.run = run;
  }

  bind() {
    document.addEventListener("keydown", (e) => this.onKey(e));
    const tools = { select: "tool-select", box: "tool-box", kp: "tool-keypoints" };
    for (const button of this.root.querySelectorAll("[data-tool]")) {
      button.addEventListener("click", () => this.run(tools[button.dataset.tool]));
    }
    for (const button of this.root.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => this.run(button.dataset.action));
    }
    // After a toolbar click the keys belong to the image again (Space must not re-click).
    for (const button of this.root.querySelectorAll(".lb-toolbar button, .lb-timeline button")) {
      button.addEventListener("click", () => this.stage.focus({ preventScroll: true }));
    }
    const overlay = document.getElementById("shortcuts");
    overlay.addEventListener("click", (e) => {
      if (e.target === overlay) overlay.hidden = true;
    });
  }

  onKey(event) {
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, dialog")) {
      if (!(target instanceof HTMLInputElement && target.type === "range")) return;
    }
    const match = actionFor(event, this.hotkeys() || {});
    if (!match) return;
    if (this.root.dataset.state !== "ready" && match.action !== "help") return;
    // Tab moves between shapes only while the image has the focus; elsewhere it is Tab.
    // So does Enter (accept a suggestion): on a focused button it must still press the button.
    const imageKeys = match.action.startsWith("select-") || match.action === "accept-suggestion";
    if (imageKeys && document.activeElement !== this.stage) return;
    const overlay = document.getElementById("shortcuts");
    if (!overlay.hidden && match.action !== "help") {
      if (event.key === "Escape") overlay.hidden = true;
      return;
    }
    event.preventDefault();
    this.run(match.action, match);
  }
}

// -- the commands ------------------------------------------------------------------------

/** parts: the page's Editor, CanvasView, Tools, Tracks, Timeline, Suggestions, Flow and
 * Propagation. */
export function createCommands({
  editor,
  canvas,
  tools,
  tracks,
  timeline,
  suggestions,
  flow,
  propagation,
}) {
  const table = {
    "tool-select": () => {
      tracks.cancelPick();
      tools.selectTool();
    },
    "tool-box": () => tools.setTool("box"),
    "tool-keypoints": () => tools.setTool("kp"),
    "skip-point": () => tools.skipPoint(),
    "cycle-visibility": () => tools.cycleVisibility(),
    "outside-or-visibility": () => {
      const item = editor.selectedItem();
      if (item?.type === "kp" && editor.selectedPoint) tools.cycleVisibility();
      else tracks.toggleOutside();
    },
    "toggle-outside": () => tracks.toggleOutside(),
    "toggle-occluded": () => tools.toggleOccluded(),
    attribute: ({ position }) => tools.attributeKey(position),
    "prev-keyframe": () => tracks.jumpToKeyframe(-1),
    "next-keyframe": () => tracks.jumpToKeyframe(1),
    "swap-tracks": () => tracks.swap(),
    "next-risk": () => tracks.jumpToRisk(1),
    "prev-risk": () => tracks.jumpToRisk(-1),
    class: ({ label }) => tools.chooseClass(label),
    delete: () => deleteSelected(editor),
    "delete-track": () => tracks.deleteTrack(),
    undo: () => editor.editable && editor.undo(),
    redo: () => editor.editable && editor.redo(),
    "next-frame": () => timeline.next(),
    "prev-frame": () => timeline.previous(),
    play: () => timeline.togglePlay(),
    "copy-next": () => tracks.copyToNext(),
    "extend-track": () => tracks.extend(),
    "split-track": () => tracks.split(),
    "merge-tracks": () => tracks.mergeChecked(),
    "confirm-shown": () => suggestions.confirmShown(),
    "propagate-forward": () => propagation?.start("forward"),
    "propagate-backward": () => propagation?.start("backward"),
    "propagate-undo": () => propagation?.undo(),
    "toggle-shapes": () => {
      canvas.toggleShapes();
      tools.renderHint();
    },
    "select-next": () => selectNeighbour(editor, 1),
    "select-prev": () => selectNeighbour(editor, -1),
    fit: () => canvas.fit(),
    "zoom-in": () => canvas.zoom(1.25),
    "zoom-out": () => canvas.zoom(0.8),
    save: () => flow.saveDraft(),
    submit: () => flow.submit(),
    skip: () => flow.openSkip(),
    help: () => {
      const overlay = $("shortcuts");
      overlay.hidden = !overlay.hidden;
    },
  };
  /** Run a command; model suggestions have the first say (Enter, Delete on a suggestion). */
  return function run(action, extra = {}) {
    if (suggestions.handle(action)) return;
    return table[action]?.(extra);
  };
}

/** Delete: the selected shape's keyframe on this frame; where it is not a keyframe
 * (interpolated, or held after its last keyframe), its whole track, as in CVAT. */
function deleteSelected(editor) {
  const item = editor.selectedItem();
  if (!editor.editable || !item) return;
  editor.change(() => {
    if (item.keyframe) removeShape(editor.doc, item.keyframe.id);
    else deleteTrack(editor.doc, item.track);
    // A track that lives on (now interpolated here) stays selected.
    if (item.track == null || !editor.doc.tracks[item.track]) editor.selection = null;
    editor.placing = null;
  });
}

/** Tab / Shift+Tab: the next or previous shape on this frame. */
function selectNeighbour(editor, step) {
  const items = editor.items();
  if (!items.length) return;
  const at = items.findIndex((i) => editor.isSelected(i));
  editor.selectItem(items[(at + step + items.length) % items.length]);
}
