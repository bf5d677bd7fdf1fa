// Keyboard shortcuts: one table drives both the key handling and the `?` overlay.

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
    action: "cycle-visibility",
    help: "Selected point: visible → occluded → not labeled",
  },
  {
    keys: ["Delete", "Backspace"],
    action: "delete",
    help: "Delete the selected shape on this frame",
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
  { keys: ["c"], action: "copy-next", help: "Copy the selected shape to the next frame" },
  { keys: ["x"], action: "split-track", help: "Split the selected track at this frame" },
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
      .map((c) => [[c.hotkey], `Class “${c.name}” (selected shape, or the next one drawn)`]),
    [["Wheel"], "Zoom at the pointer"],
    [["Drag on empty space", "Middle button"], "Pan"],
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
