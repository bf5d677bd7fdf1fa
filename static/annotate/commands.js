// Every command of the labeling page by name: what each key of shortcuts.js and each
// [data-action] button does. Edits check editor.editable here or in the part they call.

import { deleteTrack, removeShape } from "./model.js";
import { $ } from "./dom.js";

/** parts: the page's Editor, CanvasView, Tools, Tracks, Timeline, Suggestions and Flow. */
export function createCommands({ editor, canvas, tools, tracks, timeline, suggestions, flow }) {
  const table = {
    "tool-select": () => tools.selectTool(),
    "tool-box": () => tools.setTool("box"),
    "tool-keypoints": () => tools.setTool("kp"),
    "skip-point": () => tools.skipPoint(),
    "cycle-visibility": () => tools.cycleVisibility(),
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

/** Delete: the selected shape on this frame; on an interpolated frame, its whole track. */
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
