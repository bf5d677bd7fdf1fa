// The labeling page's pointer tools: select/move/resize, drawing boxes, placing skeleton
// points, zoom and pan; with the toolbar they drive (tool buttons, class palette, hint line,
// the next-point hint at the cursor). Edits go through the Editor; the view through the
// CanvasView.

import {
  boxFromCorners,
  distance,
  handleAt,
  moveBox,
  resizeBox,
  topmostBoxAt,
} from "./geometry.js";
import {
  addShape,
  cloneDoc,
  copyToFrame,
  materialize,
  newTrack,
  removeShape,
  setLabel,
} from "./model.js";
import { nextUncertain } from "./suggestions.js";
import { nextValue, setAttribute, setOccluded, specsOf, valueOf } from "./attributes.js";
import { $ } from "./dom.js";

const POINT_TOLERANCE_PX = 8;
const HANDLE_TOLERANCE_PX = 6;

export class Tools {
  /** suggestions: a Suggestions (a click on empty space may pick one); picker: {active(),
   * pick(track number | null)} while a track is being chosen (the partner of a swap). */
  constructor(editor, { root, stage, canvas, suggestions, picker }) {
    this.editor = editor;
    this.picker = picker;
    this.root = root;
    this.stage = stage;
    this.canvas = canvas;
    this.suggestions = suggestions;
    this.tool = "select"; // select | box | kp
    this.drag = null; // the gesture under way: {kind: pan | draw | move | resize | point, ...}
  }

  bind() {
    const stage = this.stage;
    stage.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    stage.addEventListener("pointermove", (e) => this.onPointerMove(e));
    stage.addEventListener("pointerup", (e) => this.onPointerUp(e));
    stage.addEventListener("pointercancel", (e) => this.onPointerUp(e));
    stage.addEventListener("pointerleave", () => ($("cursor-hint").hidden = true));
    stage.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    stage.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  // -- toolbar ---------------------------------------------------------------------------

  renderPalette() {
    const palette = $("palette");
    palette.replaceChildren();
    for (const cls of this.editor.schema.classes) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.label = cls.name;
      button.setAttribute("aria-pressed", String(cls.name === this.editor.currentLabel));
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = /^#[0-9a-fA-F]{6}$/.test(cls.color) ? cls.color : "#888888";
      button.append(swatch, cls.name);
      if (cls.hotkey) {
        const kbd = document.createElement("kbd");
        kbd.textContent = cls.hotkey;
        button.append(" ", kbd);
      }
      button.addEventListener("click", () => this.chooseClass(cls.name));
      palette.append(button);
    }
  }

  /** The class of the next shape drawn; the selected shape takes it too. */
  chooseClass(label) {
    const editor = this.editor;
    editor.currentLabel = label;
    for (const b of $("palette").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.label === label));
    }
    const item = editor.selectedItem();
    if (item && editor.editable && item.label !== label) {
      editor.change(() => setLabel(editor.doc, item, label));
    }
  }

  setTool(tool) {
    const { editable, schema } = this.editor;
    if (!editable && tool !== "select") tool = "select";
    if (tool === "box" && !schema.boxes) return;
    if (tool === "kp" && !schema.keypoints) return;
    if (tool !== "kp") this.editor.placing = null;
    this.tool = tool;
    this.stage.dataset.tool = tool;
    for (const b of $("tools").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
      const enabled =
        b.dataset.tool === "select" ||
        (editable && (b.dataset.tool === "box" ? schema.boxes : schema.keypoints));
      b.disabled = !enabled;
    }
    this.renderHint();
  }

  /** Esc / v: the select tool, ending a skeleton being placed. */
  selectTool() {
    if (this.editor.placing) this.finishSkeleton();
    this.setTool("select");
  }

  renderHint() {
    const hint = $("hint");
    hint.replaceChildren();
    if (this.canvas.shapesHidden) {
      hint.textContent = "Shapes hidden: press h to show them";
    } else if (this.tool === "kp") {
      hint.append("Next point: ");
      const strong = document.createElement("strong");
      strong.id = "next-point";
      strong.textContent = this.editor.nextPointName() ?? "—";
      hint.append(strong, " · Shift+click = occluded · n = skip · Esc = done");
    } else if (this.tool === "box") {
      hint.textContent = `Drag to draw a ${this.editor.currentLabel ?? ""} box`;
    } else if (this.absentSelectedTrack()?.type === "box") {
      const { track } = this.editor.selection;
      hint.textContent = `Track #${track} is not on this frame: drag to draw its box here (Alt+drag or middle button pans)`;
    } else {
      hint.textContent = this.editor.editable
        ? "Click to select; drag to move; handles resize; drag empty space to pan"
        : "Read-only";
    }
  }

  updateCursorHint(p) {
    const hint = $("cursor-hint");
    if (this.tool !== "kp") {
      hint.hidden = true;
      return;
    }
    hint.hidden = false;
    hint.textContent = this.editor.nextPointName() ?? "";
    hint.style.left = `${p.sx + 14}px`;
    hint.style.top = `${p.sy + 10}px`;
  }

  // -- skeleton points -------------------------------------------------------------------

  setVisibility(item, name, v) {
    const editor = this.editor;
    const snapshot = cloneDoc(editor.doc);
    const shape = materialize(editor.doc, item);
    const p = shape.points[name] || [0, 0, 0];
    if (p[2] === 0 && v > 0) {
      // Not placed yet: the next click places it with that visibility.
      editor.placing = {
        shapeId: shape.id,
        index: editor.schema.skeleton.keypoints.findIndex((k) => k.name === name),
        visibility: v,
        only: true,
      };
      this.setTool("kp");
      editor.changed({ save: false });
      return;
    }
    editor.change(
      () => {
        shape.points[name] = v === 0 ? [0, 0, 0] : [p[0], p[1], v];
      },
      { snapshot },
    );
  }

  /** An attribute of the selected shape changed (its panel, or its key). */
  setAttribute(item, spec, value) {
    const editor = this.editor;
    if (!editor.editable || !item) return;
    editor.change(() => setAttribute(editor.doc, item, spec, value));
  }

  setOccluded(item, occluded) {
    const editor = this.editor;
    if (!editor.editable || !item) return;
    editor.change(() => setOccluded(editor.doc, item, occluded));
  }

  /** q: the selected shape's occluded flag on / off. */
  toggleOccluded() {
    const item = this.editor.selectedItem();
    if (item) this.setOccluded(item, !item.value.occluded);
  }

  /** Shift+1 ... Shift+9: the selected shape's n-th attribute; a checkbox flips, a select
   * takes its next value, a number or a text gets the keys in its field. */
  attributeKey(position) {
    const editor = this.editor;
    const item = editor.selectedItem();
    if (!item) return;
    const spec = specsOf(editor.schema, item.label)[position - 1];
    if (!spec) return;
    const next = nextValue(spec, valueOf(item.value, spec));
    if (next !== null) {
      this.setAttribute(item, spec, next);
      return;
    }
    const field = $("attribute-list").querySelector(
      `[data-attribute="${CSS.escape(spec.name)}"] input`,
    );
    field?.focus();
    field?.select();
  }

  /** o: the selected point goes visible -> occluded -> not labeled. */
  cycleVisibility() {
    const editor = this.editor;
    const item = editor.selectedItem();
    if (!editor.editable || item?.type !== "kp" || !editor.selectedPoint) return;
    const v = item.value.points[editor.selectedPoint]?.[2] ?? 0;
    this.setVisibility(item, editor.selectedPoint, v === 2 ? 1 : v === 1 ? 0 : 2);
  }

  /** A model skeleton has points left to place: the prompt starts there. */
  startPlacing(placing) {
    this.setTool("kp");
    this.editor.placing = placing;
    this.renderHint();
    this.editor.select({ id: placing.shapeId });
  }

  placePoint(p, occluded) {
    const editor = this.editor;
    const names = editor.pointNames();
    const { width, height } = editor.imageSize;
    if (p.ix < 0 || p.iy < 0 || p.ix > width || p.iy > height) return;
    if (!editor.currentLabel || !names.length) return;
    editor.change(() => {
      const doc = editor.doc;
      let shape = editor.placing ? doc.shapes.find((s) => s.id === editor.placing.shapeId) : null;
      if (!shape) {
        const track = editor.useTracks ? newTrack(doc, editor.currentLabel) : null;
        const points = Object.fromEntries(names.map((n) => [n, [0, 0, 0]]));
        shape = addShape(doc, {
          type: "kp",
          frame: editor.frame,
          label: editor.currentLabel,
          track,
          points,
        });
        editor.placing = { shapeId: shape.id, index: 0 };
      }
      const name = names[editor.placing.index];
      const v = editor.placing.visibility ?? (occluded ? 1 : 2);
      shape.points[name] = [p.ix, p.iy, v];
      editor.selection =
        shape.track != null ? { track: shape.track, type: "kp" } : { id: shape.id };
      editor.selectedPoint = name;
      if (editor.placing.only) editor.placing = null;
      else this.advancePlacing();
    });
    this.renderHint();
  }

  advancePlacing() {
    const editor = this.editor;
    const names = editor.pointNames();
    const shape = editor.doc.shapes.find((s) => s.id === editor.placing?.shapeId);
    if (!shape) return;
    let index = editor.placing.index + 1;
    while (index < names.length && shape.points[names[index]]?.[2] > 0) index++;
    // Done with this skeleton: the prompt moves on to a model skeleton with points to place.
    editor.placing =
      index < names.length
        ? { shapeId: shape.id, index }
        : nextUncertain(editor.doc, names, editor.frame, shape.id);
  }

  /** n: leave the next point unlabeled. */
  skipPoint() {
    if (this.tool !== "kp" || !this.editor.placing) return;
    this.advancePlacing();
    this.renderHint();
    this.editor.emit("selection"); // the selection panel marks the next point
  }

  finishSkeleton() {
    const editor = this.editor;
    const placing = editor.placing;
    const shape = placing ? editor.doc.shapes.find((s) => s.id === placing.shapeId) : null;
    editor.placing = null;
    if (shape && !Object.values(shape.points).some((p) => p[2] > 0)) {
      editor.change(() => removeShape(editor.doc, shape.id));
    }
    this.renderHint();
  }

  // -- pointer ---------------------------------------------------------------------------

  hitTest(p) {
    if (this.canvas.shapesHidden) return null; // what is not shown cannot be grabbed
    const scale = this.canvas.view.scale;
    const tolPoint = POINT_TOLERANCE_PX / scale;
    const items = this.editor.items();
    const selected = this.editor.selectedItem();
    // Points first (the selected skeleton's before others), then the selected box's handles.
    const skeletons = items.filter((i) => i.type === "kp");
    if (selected?.type === "kp") skeletons.unshift(selected);
    for (const item of skeletons) {
      for (const [name, pt] of Object.entries(item.value.points)) {
        if (pt[2] > 0 && distance(pt[0], pt[1], p.ix, p.iy) <= tolPoint)
          return { item, point: name };
      }
    }
    if (selected?.type === "box" && this.editor.editable) {
      const handle = handleAt(selected.value, p.ix, p.iy, HANDLE_TOLERANCE_PX / scale);
      if (handle) return { item: selected, handle };
    }
    const boxes = items.filter((i) => i.type === "box").map((item) => ({ item, box: item.value }));
    const hit = topmostBoxAt(boxes, p.ix, p.iy, 2 / scale);
    return hit ? { item: hit.item } : null;
  }

  startPan(p) {
    this.drag = { kind: "pan", start: p, view: { ...this.canvas.view } };
    this.stage.classList.add("panning");
  }

  onPointerDown(event) {
    if (this.root.dataset.state !== "ready") return;
    const editor = this.editor;
    this.stage.focus({ preventScroll: true });
    const p = this.canvas.pointer(event);
    this.stage.setPointerCapture(event.pointerId);
    if (event.button === 1 || (event.button === 0 && event.altKey)) return this.startPan(p);
    if (event.button !== 0) return;
    if (this.picker?.active()) {
      this.picker.pick(this.hitTest(p)?.item.track ?? null);
      return;
    }
    if (this.tool === "box") {
      this.drag = { kind: "draw", start: p, box: null };
      this.canvas.draft = null;
      this.canvas.freeze();
      return;
    }
    if (this.tool === "kp") {
      this.placePoint(p, event.shiftKey);
      return;
    }
    const hit = this.hitTest(p);
    if (!hit && this.suggestions.pick(p)) return;
    this.suggestions.selected = null;
    if (!hit) {
      const absent = this.absentSelectedTrack();
      if (absent?.type === "box") {
        // The selected track is not on this frame: a drag draws its box here.
        this.drag = { kind: "draw", start: p, box: null, track: absent.track };
        this.canvas.draft = null;
        this.canvas.freeze();
        return;
      }
      if (absent) {
        this.editor.emit("notice", {
          id: "absent",
          text: `Track #${absent.track} is not on this frame: press e to bring its skeleton here, or o to bring it back.`,
        });
      }
      editor.selectItem(null);
      return this.startPan(p);
    }
    editor.selectItem(hit.item, hit.point ?? null);
    if (!editor.editable) return;
    // The shape becomes a keyframe here only once it is really moved (a click selects).
    const { width, height } = editor.imageSize;
    const common = {
      item: hit.item,
      shape: null, // the keyframe moved, once the pointer really moves (grab)
      snapshot: null,
      moved: false,
      width,
      height,
      start: p,
    };
    if (hit.point) this.drag = { kind: "point", name: hit.point, ...common };
    else if (hit.handle) this.drag = { kind: "resize", handle: hit.handle, ...common };
    else this.drag = { kind: "move", ...common };
  }

  /** The selected track when it has no shape on this frame ({track, type}), else null. */
  absentSelectedTrack() {
    const { editor } = this;
    const sel = editor.selection;
    if (!editor.editable || sel?.track == null || editor.selectedItem()) return null;
    if (!editor.doc.tracks[sel.track]) return null;
    return sel;
  }

  /** The first real movement of a gesture on a shape: from here on it is a keyframe. */
  grab(drag, p) {
    if (drag.shape) return true;
    if (Math.hypot(p.sx - drag.start.sx, p.sy - drag.start.sy) < 2) return false;
    drag.snapshot = cloneDoc(this.editor.doc); // what undo goes back to
    drag.shape = materialize(this.editor.doc, drag.item);
    drag.origin = { ...drag.shape };
    this.editor.invalidate();
    this.canvas.freeze(); // the other shapes stay still: drawn once for the whole drag
    return true;
  }

  onPointerMove(event) {
    const p = this.canvas.pointer(event);
    this.updateCursorHint(p);
    const drag = this.drag;
    if (!drag) return;
    if (drag.kind === "pan") {
      this.canvas.setView({
        scale: drag.view.scale,
        x: drag.view.x + p.sx - drag.start.sx,
        y: drag.view.y + p.sy - drag.start.sy,
      });
      return;
    }
    const { width, height } = this.editor.imageSize;
    if (drag.kind === "draw") {
      drag.box = boxFromCorners(drag.start.ix, drag.start.iy, p.ix, p.iy, width, height);
      this.canvas.draft = drag.box;
    } else if (!this.grab(drag, p)) {
      return;
    } else if (drag.kind === "move") {
      const moved = moveBox(drag.origin, p.ix - drag.start.ix, p.iy - drag.start.iy, width, height);
      Object.assign(drag.shape, moved);
      drag.moved = true;
    } else if (drag.kind === "resize") {
      Object.assign(drag.shape, resizeBox(drag.shape, drag.handle, p.ix, p.iy, width, height));
      drag.moved = true;
    } else if (drag.kind === "point") {
      const old = drag.shape.points[drag.name];
      drag.shape.points[drag.name] = [
        Math.min(Math.max(p.ix, 0), width),
        Math.min(Math.max(p.iy, 0), height),
        old[2],
      ];
      drag.moved = true;
    }
    this.canvas.requestDraw();
  }

  onPointerUp(event) {
    const editor = this.editor;
    const drag = this.drag;
    this.drag = null;
    this.canvas.draft = null;
    this.canvas.thaw();
    this.stage.classList.remove("panning");
    if (this.stage.hasPointerCapture?.(event.pointerId))
      this.stage.releasePointerCapture(event.pointerId);
    if (!drag) return;
    if (drag.kind === "draw") {
      const box = drag.box;
      const scale = this.canvas.view.scale;
      const big = box && box.w * scale >= 3 && box.h * scale >= 3;
      if (big && drag.track != null && editor.doc.tracks[drag.track]) {
        editor.change(() => {
          const label = editor.doc.tracks[drag.track].label;
          copyToFrame(
            editor.doc,
            { track: drag.track, type: "box", label, value: { type: "box", label, ...box } },
            editor.frame,
          );
          editor.selection = { track: drag.track, type: "box" };
        });
        editor.emit("notice", {
          id: "absent",
          kind: "info",
          text: `Track #${drag.track} has a keyframe on frame ${editor.frame + 1} now (Ctrl+Z undoes it).`,
        });
      } else if (drag.track != null) {
        editor.selectItem(null); // a click where the selected track is not: nothing selected
      } else if (big && editor.currentLabel) {
        editor.change(() => {
          const label = editor.currentLabel;
          const track = editor.useTracks ? newTrack(editor.doc, label) : null;
          const shape = addShape(editor.doc, {
            type: "box",
            frame: editor.frame,
            label,
            track,
            ...box,
          });
          editor.selection = track != null ? { track, type: "box" } : { id: shape.id };
        });
      } else {
        // A click with the box tool selects what is under it.
        const hit = this.hitTest(this.canvas.pointer(event));
        editor.selectItem(hit?.item ?? null);
      }
      this.canvas.requestDraw();
      return;
    }
    if (drag.snapshot && drag.moved) editor.change(() => {}, { snapshot: drag.snapshot });
    this.canvas.requestDraw();
  }

  onWheel(event) {
    event.preventDefault();
    const p = this.canvas.pointer(event);
    this.canvas.zoom(Math.exp(-event.deltaY * 0.0015), p.sx, p.sy);
  }
}
