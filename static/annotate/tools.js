// The labeling page's pointer tools: select/move/resize, drawing boxes, placing skeleton
// points, zoom and pan. Methods of LabelApp (label.js).

import {
  boxFromCorners,
  distance,
  handleAt,
  moveBox,
  resizeBox,
  toImage,
  topmostBoxAt,
  zoomAt,
} from "./geometry.js";
import { addShape, cloneDoc, materialize, newTrack, removeShape, setLabel } from "./model.js";
import { $ } from "./dom.js";

const POINT_TOLERANCE_PX = 8;
const HANDLE_TOLERANCE_PX = 6;

export const toolsMethods = {
  chooseClass(label) {
    this.currentLabel = label;
    for (const b of $("palette").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.label === label));
    }
    const item = this.selectedItem();
    if (item && this.editable && item.label !== label) {
      this.change(() => setLabel(this.doc, item, label));
    }
  },

  setTool(tool) {
    if (!this.editable && tool !== "select") tool = "select";
    if (tool === "box" && !this.schema.boxes) return;
    if (tool === "kp" && !this.schema.keypoints) return;
    if (tool !== "kp") this.placing = null;
    this.tool = tool;
    this.stage.dataset.tool = tool;
    for (const b of $("tools").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
      const enabled =
        b.dataset.tool === "select" ||
        (this.editable && (b.dataset.tool === "box" ? this.schema.boxes : this.schema.keypoints));
      b.disabled = !enabled;
    }
    this.renderHint();
  },

  nextPointName() {
    if (!this.placing) return this.schema.skeleton.keypoints[0]?.name ?? null;
    return this.schema.skeleton.keypoints[this.placing.index]?.name ?? null;
  },

  setVisibility(item, name, v) {
    const snapshot = cloneDoc(this.doc);
    const shape = materialize(this.doc, item);
    const p = shape.points[name] || [0, 0, 0];
    if (p[2] === 0 && v > 0) {
      // Not placed yet: the next click places it with that visibility.
      this.placing = {
        shapeId: shape.id,
        index: this.schema.skeleton.keypoints.findIndex((k) => k.name === name),
        visibility: v,
        only: true,
      };
      this.setTool("kp");
      this.afterDocChange(false);
      return;
    }
    this.change(
      () => {
        shape.points[name] = v === 0 ? [0, 0, 0] : [p[0], p[1], v];
      },
      { snapshot },
    );
  },

  pointer(event) {
    const rect = this.stage.getBoundingClientRect();
    const sx = event.clientX - rect.left;
    const sy = event.clientY - rect.top;
    const [ix, iy] = toImage(this.view, sx, sy);
    return { sx, sy, ix, iy };
  },

  hitTest(p) {
    if (this.shapesHidden) return null; // what is not shown cannot be grabbed
    const tolPoint = POINT_TOLERANCE_PX / this.view.scale;
    const items = this.items();
    const selected = this.selectedItem();
    // Points first (the selected skeleton's before others), then the selected box's handles.
    const skeletons = items.filter((i) => i.type === "kp");
    if (selected?.type === "kp") skeletons.unshift(selected);
    for (const item of skeletons) {
      for (const [name, pt] of Object.entries(item.value.points)) {
        if (pt[2] > 0 && distance(pt[0], pt[1], p.ix, p.iy) <= tolPoint)
          return { item, point: name };
      }
    }
    if (selected?.type === "box" && this.editable) {
      const handle = handleAt(selected.value, p.ix, p.iy, HANDLE_TOLERANCE_PX / this.view.scale);
      if (handle) return { item: selected, handle };
    }
    const boxes = items.filter((i) => i.type === "box").map((item) => ({ item, box: item.value }));
    const hit = topmostBoxAt(boxes, p.ix, p.iy, 2 / this.view.scale);
    return hit ? { item: hit.item } : null;
  },

  onPointerDown(event) {
    if (this.root.dataset.state !== "ready") return;
    this.stage.focus({ preventScroll: true });
    const p = this.pointer(event);
    this.stage.setPointerCapture(event.pointerId);
    if (event.button === 1 || (event.button === 0 && event.altKey)) {
      this.drag = { kind: "pan", start: p, view: { ...this.view } };
      this.stage.classList.add("panning");
      return;
    }
    if (event.button !== 0) return;
    if (this.tool === "box") {
      this.drag = { kind: "draw", start: p, box: null };
      return;
    }
    if (this.tool === "kp") {
      this.placePoint(p, event.shiftKey);
      return;
    }
    const hit = this.hitTest(p);
    if (!hit && this.pickSuggestion(p)) return;
    this.suggestionSelected = null;
    if (!hit) {
      this.selectItem(null);
      this.drag = { kind: "pan", start: p, view: { ...this.view } };
      this.stage.classList.add("panning");
      return;
    }
    this.selectItem(hit.item, hit.point ?? null);
    if (!this.editable) return;
    const snapshot = cloneDoc(this.doc);
    const shape = materialize(this.doc, hit.item);
    this.invalidate();
    const { width, height } = this.imageSize;
    if (hit.point) {
      this.drag = { kind: "point", shape, name: hit.point, snapshot, moved: false, width, height };
    } else if (hit.handle) {
      this.drag = {
        kind: "resize",
        shape,
        handle: hit.handle,
        snapshot,
        moved: false,
        width,
        height,
      };
    } else {
      this.drag = {
        kind: "move",
        shape,
        start: p,
        origin: { ...shape },
        snapshot,
        moved: false,
        width,
        height,
      };
    }
  },

  onPointerMove(event) {
    const p = this.pointer(event);
    this.updateCursorHint(p);
    const drag = this.drag;
    if (!drag) return;
    if (drag.kind === "pan") {
      this.setView({
        scale: drag.view.scale,
        x: drag.view.x + p.sx - drag.start.sx,
        y: drag.view.y + p.sy - drag.start.sy,
      });
      return;
    }
    const { width, height } = this.imageSize;
    if (drag.kind === "draw") {
      drag.box = boxFromCorners(drag.start.ix, drag.start.iy, p.ix, p.iy, width, height);
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
    this.requestDraw();
  },

  onPointerUp(event) {
    const drag = this.drag;
    this.drag = null;
    this.stage.classList.remove("panning");
    if (this.stage.hasPointerCapture?.(event.pointerId))
      this.stage.releasePointerCapture(event.pointerId);
    if (!drag) return;
    if (drag.kind === "draw") {
      const box = drag.box;
      if (
        box &&
        box.w * this.view.scale >= 3 &&
        box.h * this.view.scale >= 3 &&
        this.currentLabel
      ) {
        this.change(() => {
          const track = this.useTracks ? newTrack(this.doc, this.currentLabel) : null;
          const shape = addShape(this.doc, {
            type: "box",
            frame: this.frame,
            label: this.currentLabel,
            track,
            ...box,
          });
          this.selection = track != null ? { track, type: "box" } : { id: shape.id };
        });
      } else {
        // A click with the box tool selects what is under it.
        const hit = this.hitTest(this.pointer(event));
        this.selectItem(hit?.item ?? null);
      }
      this.requestDraw();
      return;
    }
    if (drag.snapshot) {
      if (drag.moved) this.change(() => {}, { snapshot: drag.snapshot });
      else if (!drag.shape || drag.snapshot.shapes.length !== this.doc.shapes.length) {
        // Materialized by the click but not moved: keep it (harmless), but make it undoable.
        this.change(() => {}, { snapshot: drag.snapshot });
      }
    }
    this.requestDraw();
  },

  placePoint(p, occluded) {
    const names = this.schema.skeleton.keypoints.map((k) => k.name);
    const { width, height } = this.imageSize;
    if (p.ix < 0 || p.iy < 0 || p.ix > width || p.iy > height) return;
    if (!this.currentLabel || !names.length) return;
    this.change(() => {
      let shape = this.placing ? this.doc.shapes.find((s) => s.id === this.placing.shapeId) : null;
      if (!shape) {
        const track = this.useTracks ? newTrack(this.doc, this.currentLabel) : null;
        const points = Object.fromEntries(names.map((n) => [n, [0, 0, 0]]));
        shape = addShape(this.doc, {
          type: "kp",
          frame: this.frame,
          label: this.currentLabel,
          track,
          points,
        });
        this.placing = { shapeId: shape.id, index: 0 };
      }
      const name = names[this.placing.index];
      const v = this.placing.visibility ?? (occluded ? 1 : 2);
      shape.points[name] = [p.ix, p.iy, v];
      this.selection = shape.track != null ? { track: shape.track, type: "kp" } : { id: shape.id };
      this.selectedPoint = name;
      if (this.placing.only) this.placing = null;
      else this.advancePlacing();
    });
    this.renderHint();
  },

  advancePlacing() {
    const names = this.schema.skeleton.keypoints.map((k) => k.name);
    const shape = this.doc.shapes.find((s) => s.id === this.placing?.shapeId);
    if (!shape) return;
    let index = this.placing.index + 1;
    while (index < names.length && shape.points[names[index]]?.[2] > 0) index++;
    // Done with this skeleton: the prompt moves on to a model skeleton with points to place.
    this.placing =
      index < names.length ? { shapeId: shape.id, index } : this.nextUncertainPlacing(shape.id);
  },

  skipPoint() {
    if (this.tool !== "kp") return;
    if (!this.placing) return;
    this.advancePlacing();
    this.renderHint();
    this.renderSelection();
  },

  finishSkeleton() {
    const shape = this.placing ? this.doc.shapes.find((s) => s.id === this.placing.shapeId) : null;
    this.placing = null;
    if (shape && !Object.values(shape.points).some((p) => p[2] > 0)) {
      this.change(() => removeShape(this.doc, shape.id));
    }
    this.renderHint();
  },

  updateCursorHint(p) {
    const hint = $("cursor-hint");
    if (this.tool !== "kp") {
      hint.hidden = true;
      return;
    }
    hint.hidden = false;
    hint.textContent = this.nextPointName() ?? "";
    hint.style.left = `${p.sx + 14}px`;
    hint.style.top = `${p.sy + 10}px`;
  },

  onWheel(event) {
    event.preventDefault();
    const p = this.pointer(event);
    this.setView(zoomAt(this.view, Math.exp(-event.deltaY * 0.0015), p.sx, p.sy));
  },
};
