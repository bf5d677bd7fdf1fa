// Drawing: the image on one canvas, the shapes on a second one above it, so that dragging a
// shape redraws only the shapes. Everything in image pixels through the view transform.
// Renderer paints what it is given; CanvasView owns the view (zoom and pan) and decides when
// to paint the editor's shapes (at most once per animation frame).

import { fitView, handlePoints, toImage, zoomAt } from "./geometry.js";
import { isPrefilled } from "./model.js";

export const SIDE_COLORS = { left: "#1e88e5", right: "#fb8c00", center: "#fdd835" };
const ERROR_COLOR = "#ff1744";
const PREFILLED_ALPHA = 0.45;
const COPIES_KEPT = 12; // frame images resampled to the view's scale (the prefetch window)

/** Whether a device-pixel coordinate is a whole pixel (so an image copied there is not
 * resampled). */
function onPixel(value) {
  return Math.abs(value - Math.round(value)) < 1e-6;
}

// Where a browser has no requestIdleCallback (Safari): soon after, all at once.
const whenIdle =
  window.requestIdleCallback?.bind(window) ??
  ((run) => setTimeout(() => run({ didTimeout: true, timeRemaining: () => 0 }), 50));

/**
 * Frame images resampled to the scale the view shows them at, made when the page is idle
 * (the frames around the one shown, as they are decoded), so that changing frames copies
 * one instead of resampling a full-size image then. Made with the same drawImage the view
 * would use, so a copy looks exactly like drawing the image itself; kept for COPIES_KEPT
 * images, the least recently made closed first.
 */
export class ScaledCopies {
  /** scale(): the device pixels per image pixel that copies are made for now. */
  constructor(scale) {
    this.scale = scale;
    this.copies = new Map(); // bitmap -> {scale, image}
    this.queue = []; // [{bitmap, width, height}] waiting for idle time
    this.scheduled = false;
  }

  /** The copy of `bitmap` at the current scale, or null. */
  get(bitmap) {
    const copy = bitmap ? this.copies.get(bitmap) : null;
    return copy && copy.scale === this.scale() ? copy.image : null;
  }

  /** Make a copy of `bitmap` (width x height image pixels) when the page is idle. */
  want(bitmap, width, height) {
    if (!bitmap || this.scale() >= 1 || this.get(bitmap)) return; // zoomed in: none needed
    if (this.queue.some((q) => q.bitmap === bitmap)) return;
    this.queue.push({ bitmap, width, height });
    if (this.scheduled) return;
    this.scheduled = true;
    const run = (deadline) => {
      this.scheduled = false;
      // One copy of a 1080p frame takes a few ms: as many as fit in this idle period.
      while (this.queue.length && (deadline.didTimeout || deadline.timeRemaining() > 8)) {
        const { bitmap: next, width: w, height: h } = this.queue.shift();
        this.make(next, w, h);
      }
      if (this.queue.length) {
        this.scheduled = true;
        whenIdle(run, { timeout: 1000 });
      }
    };
    whenIdle(run, { timeout: 1000 });
  }

  make(bitmap, width, height) {
    const scale = this.scale();
    // Closed meanwhile (the frame cache let it go), or not a downscale: nothing to gain.
    if (!bitmap.width || scale >= 1 || this.get(bitmap)) return;
    const canvas = new OffscreenCanvas(Math.ceil(width * scale), Math.ceil(height * scale));
    const ctx = canvas.getContext("2d");
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(bitmap, 0, 0, width, height);
    this.copies.get(bitmap)?.image.close();
    this.copies.delete(bitmap);
    this.copies.set(bitmap, { scale, image: canvas.transferToImageBitmap() }); // drawn now
    for (const [old, copy] of this.copies) {
      if (this.copies.size <= COPIES_KEPT) break;
      copy.image.close();
      this.copies.delete(old);
    }
  }

  /** The task closed: its images are gone. */
  clear() {
    for (const copy of this.copies.values()) copy.image.close();
    this.copies.clear();
    this.queue = [];
  }
}

export class Renderer {
  constructor(stage, imageCanvas, shapeCanvas) {
    this.stage = stage;
    this.imageCanvas = imageCanvas;
    this.shapeCanvas = shapeCanvas;
    this.imageCtx = imageCanvas.getContext("2d", { alpha: false });
    this.shapeCtx = shapeCanvas.getContext("2d");
    this.width = 1;
    this.height = 1;
    this.ratio = 1;
    this.boxesDrawn = 0; // by the last drawShapes (the others were off screen)
    this.dashes = new Map(); // color -> CanvasPattern: dashed one-pixel lines (dashPattern)
  }

  resize() {
    const rect = this.stage.getBoundingClientRect();
    this.ratio = window.devicePixelRatio || 1;
    this.width = Math.max(1, Math.floor(rect.width));
    this.height = Math.max(1, Math.floor(rect.height));
    this.dashes.clear(); // drawn for the previous device pixel ratio
    for (const canvas of [this.imageCanvas, this.shapeCanvas]) {
      canvas.width = Math.floor(this.width * this.ratio);
      canvas.height = Math.floor(this.height * this.ratio);
      canvas.style.width = `${this.width}px`;
      canvas.style.height = `${this.height}px`;
    }
  }

  /**
   * The frame's image under the shapes. `copy`: the same image already resampled to the
   * view's scale (ScaledCopies); where the view sits on whole device pixels it is copied as
   * it is, which costs a fraction of resampling the full-size image (1080p: ~1 ms, not ~6).
   */
  drawImage(bitmap, view, imageWidth, imageHeight, copy = null) {
    const ctx = this.imageCtx;
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.fillStyle = "#1b1f24";
    ctx.fillRect(0, 0, this.width, this.height);
    const left = this.ratio * view.x;
    const top = this.ratio * view.y;
    if (bitmap && copy && onPixel(left) && onPixel(top)) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(copy, Math.round(left), Math.round(top));
      return;
    }
    ctx.setTransform(this.ratio * view.scale, 0, 0, this.ratio * view.scale, left, top);
    ctx.imageSmoothingEnabled = view.scale < 2;
    if (bitmap) {
      ctx.drawImage(bitmap, 0, 0, imageWidth, imageHeight);
    } else {
      ctx.fillStyle = "#3a4048";
      ctx.fillRect(0, 0, imageWidth, imageHeight);
    }
  }

  /** A stroke style for one-device-pixel lines that shows them dashed (6 on, 4 off): a tile
   * of diagonal stripes, so that any horizontal or vertical line through it is dashed.
   * Stroking with it costs about what a plain line does; setLineDash on thousands of boxes
   * costs several times that (it cuts every box into dashes). */
  dashPattern(color) {
    let pattern = this.dashes.get(color);
    if (!pattern) {
      const period = Math.max(2, Math.round(10 * this.ratio));
      const on = Math.max(1, Math.round(6 * this.ratio));
      const tile = document.createElement("canvas");
      tile.width = period;
      tile.height = period;
      const ctx = tile.getContext("2d");
      ctx.fillStyle = color;
      for (let i = 0; i < period; i++) {
        for (let j = 0; j < period; j++) if ((i + j) % period < on) ctx.fillRect(i, j, 1, 1);
      }
      pattern = this.shapeCtx.createPattern(tile, "repeat");
      this.dashes.set(color, pattern);
    }
    return pattern;
  }

  /**
   * opts: {under: a layer drawn first (CanvasView.freeze) | null, total: shapes on the frame,
   *        colors: {label: color}, skeleton: {keypoints: [{name, side}], edges},
   *        isSelected(item), selectedPoint, errors: Map(itemKey -> [messages]),
   *        errorKey(item), draft: {x, y, w, h}|null, placing: {itemKey, nextName}|null}
   */
  drawShapes(items, view, opts) {
    const ctx = this.shapeCtx;
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    if (opts.under) {
      // The shapes that do not change during a drag, drawn once (see CanvasView.freeze).
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(opts.under, 0, 0);
      ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    }
    const s = view.scale;
    const sx = (x) => x * s + view.x;
    const sy = (y) => y * s + view.y;
    const labelsFit = (opts.total ?? items.length) <= 400;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "bottom";

    // Plain boxes are batched into one path per colour and line style (thousands of boxes
    // cost a few strokes, not thousands); boxes off screen are not drawn at all. The
    // selected box and boxes with errors are drawn one by one, above the others.
    let selected = null;
    const batches = new Map(); // color -> {solid: [x, y, w, h, ...], dashed: [...]}
    const single = [];
    const labels = [];
    const anyErrors = opts.errors.size > 0;
    const colors = opts.colors;
    for (const item of items) {
      if (item.type !== "box") continue;
      const b = item.value;
      const x = sx(b.x);
      const y = sy(b.y);
      const w = b.w * s;
      const h = b.h * s;
      const isSel = opts.isSelected(item);
      if (isSel) selected = item;
      else if (x > this.width || y > this.height || x + w < 0 || y + h < 0) continue;
      const errors = anyErrors ? opts.errors.get(opts.errorKey(item)) : undefined;
      const color = errors ? ERROR_COLOR : colors[item.label] || "#e6194b";
      if (isSel || errors) single.push({ item, x, y, w, h, isSel, errors, color });
      else {
        let batch = batches.get(color);
        if (!batch) batches.set(color, (batch = { solid: [], dashed: [] }));
        (item.interpolated ? batch.dashed : batch.solid).push(x, y, w, h);
      }
      if (labelsFit && (w > 30 || isSel)) labels.push({ item, x, y, color });
    }
    this.boxesDrawn = single.length;
    if (labelsFit) {
      ctx.lineWidth = 1.5;
      for (const [color, batch] of batches) {
        ctx.strokeStyle = color;
        for (const dashed of [false, true]) {
          const rects = dashed ? batch.dashed : batch.solid;
          if (!rects.length) continue;
          ctx.setLineDash(dashed ? [6, 4] : []);
          ctx.beginPath();
          for (let i = 0; i < rects.length; i += 4) {
            ctx.rect(rects[i], rects[i + 1], rects[i + 2], rects[i + 3]);
          }
          ctx.stroke();
          this.boxesDrawn += rects.length / 4;
        }
      }
      ctx.setLineDash([]);
    } else {
      // Many boxes: one-device-pixel lines on the pixel grid, which rasterize several times
      // faster than wider anti-aliased ones (2,000 boxes in a millisecond or two), and
      // dashed by a pattern rather than by setLineDash (see dashPattern).
      const r = this.ratio;
      const snap = (v) => Math.round(v * r) + 0.5;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.lineWidth = 1;
      for (const [color, batch] of batches) {
        for (const dashed of [false, true]) {
          const rects = dashed ? batch.dashed : batch.solid;
          if (!rects.length) continue;
          ctx.strokeStyle = dashed ? this.dashPattern(color) : color;
          ctx.beginPath();
          for (let i = 0; i < rects.length; i += 4) {
            const left = snap(rects[i]);
            const top = snap(rects[i + 1]);
            ctx.rect(left, top, snap(rects[i] + rects[i + 2]) - left, snap(rects[i + 1] + rects[i + 3]) - top);
          }
          ctx.stroke();
          this.boxesDrawn += rects.length / 4;
        }
      }
      ctx.setTransform(r, 0, 0, r, 0, 0);
    }
    for (const { item, x, y, w, h, isSel, errors, color } of single) {
      ctx.strokeStyle = color;
      ctx.lineWidth = isSel ? 2.5 : 1.5;
      ctx.setLineDash(item.interpolated ? [6, 4] : errors ? [3, 3] : []);
      if (isSel) {
        ctx.fillStyle = `${color}33`;
        ctx.fillRect(x, y, w, h);
      }
      ctx.strokeRect(x, y, w, h);
      if (errors) {
        ctx.fillStyle = ERROR_COLOR;
        ctx.textBaseline = "top";
        ctx.fillText(`⚠ ${errors[0]}`, x + 2, y + h + 2);
        ctx.textBaseline = "bottom";
      }
    }
    for (const { item, x, y, color } of labels) {
      ctx.fillStyle = color;
      ctx.fillText(`${item.label}${item.track != null ? ` #${item.track}` : ""}`, x + 2, y - 2);
    }
    ctx.setLineDash([]);

    for (const item of items) {
      if (item.type === "kp") this._drawSkeleton(ctx, item, view, opts);
    }

    if (selected && opts.editable) {
      const points = handlePoints(selected.value);
      ctx.fillStyle = "#ffffff";
      ctx.strokeStyle = "#111111";
      ctx.lineWidth = 1;
      for (const [hx, hy] of Object.values(points)) {
        ctx.fillRect(sx(hx) - 4, sy(hy) - 4, 8, 8);
        ctx.strokeRect(sx(hx) - 4, sy(hy) - 4, 8, 8);
      }
    }

    if (opts.draft) {
      const d = opts.draft;
      ctx.strokeStyle = opts.colors[opts.currentLabel] || "#ffffff";
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1.5;
      ctx.strokeRect(sx(d.x), sy(d.y), d.w * s, d.h * s);
      ctx.setLineDash([]);
    }
  }

  _drawSkeleton(ctx, item, view, opts) {
    const s = view.scale;
    const points = item.value.points;
    const sides = opts.sides;
    const isSel = opts.isSelected(item);
    const errors = opts.errors.get(opts.errorKey(item));
    ctx.lineWidth = isSel ? 3 : 2;
    ctx.setLineDash(item.interpolated ? [6, 4] : []);
    for (const [a, b] of opts.skeleton.edges) {
      const pa = points[a];
      const pb = points[b];
      if (!pa || !pb || pa[2] === 0 || pb[2] === 0) continue;
      const side = sides[a] === sides[b] ? sides[a] : "center";
      ctx.strokeStyle = errors ? ERROR_COLOR : SIDE_COLORS[side];
      ctx.beginPath();
      ctx.moveTo(pa[0] * s + view.x, pa[1] * s + view.y);
      ctx.lineTo(pb[0] * s + view.x, pb[1] * s + view.y);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const [name, p] of Object.entries(points)) {
      if (!p || p[2] === 0) continue;
      const x = p[0] * s + view.x;
      const y = p[1] * s + view.y;
      const color = SIDE_COLORS[sides[name] || "center"];
      const pointSelected = isSel && opts.selectedPoint === name;
      const r = pointSelected ? 7 : 5;
      // Pre-filled by the model or propagation and not confirmed yet: dimmed.
      ctx.globalAlpha = isPrefilled(item.value, name) ? PREFILLED_ALPHA : 1;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      if (p[2] === 2) {
        ctx.fillStyle = color;
        ctx.fill();
        ctx.strokeStyle = "#111111";
        ctx.lineWidth = 1;
        ctx.stroke();
      } else {
        // Occluded: a hollow ring.
        ctx.fillStyle = "#111111aa";
        ctx.fill();
        ctx.strokeStyle = color;
        ctx.lineWidth = 2.5;
        ctx.stroke();
      }
      if (pointSelected) {
        ctx.fillStyle = "#ffffff";
        ctx.fillText(name, x + 8, y - 4);
      }
    }
    ctx.globalAlpha = 1;
    if (errors) {
      const first = Object.values(points).find((p) => p && p[2] > 0);
      if (first) {
        ctx.fillStyle = ERROR_COLOR;
        ctx.fillText(`⚠ ${errors[0]}`, first[0] * s + view.x + 8, first[1] * s + view.y + 16);
      }
    }
  }
}

/** The stage: the view transform, the current frame's image, and the shapes of an Editor. */
export class CanvasView {
  constructor(editor, { stage, imageCanvas, shapeCanvas, stats }) {
    this.editor = editor;
    this.stage = stage;
    this.renderer = new Renderer(stage, imageCanvas, shapeCanvas);
    this.stats = stats; // {draws, drawMs}: counted for benchmarks/ui.py
    this.view = { scale: 1, x: 0, y: 0 };
    this.bitmap = null;
    this.imageDirty = true;
    this.drawPending = false;
    this.shapesHidden = false;
    this.draft = null; // the box being drawn, {x, y, w, h}, set by the box tool
    this.overlays = []; // painters called after the shapes (model suggestions)
    this.frozen = null; // {canvas, key}: the shapes a drag leaves alone, drawn once
    this.copies = new ScaledCopies(() => this.renderer.ratio * this.view.scale);
  }

  /** Follow the stage's size; the first call only measures. */
  watchSize() {
    this.renderer.resize();
    new ResizeObserver(() => {
      this.renderer.resize();
      this.imageDirty = true;
      this.requestDraw();
    }).observe(this.stage);
  }

  addOverlay(paint) {
    this.overlays.push(paint);
  }

  /** The frame's decoded image (or null: a placeholder), drawn now unless draw is false. */
  showImage(bitmap, { draw = true } = {}) {
    this.bitmap = bitmap;
    this.imageDirty = true;
    if (!bitmap) this.copies.clear(); // the task closes: its frame images go
    if (draw) this.drawNow();
  }

  /** A frame image that may be shown soon (decoded ahead; width x height image pixels):
   * resample it to the view's scale when the page is idle. */
  prepareImage(bitmap, { width, height } = this.editor.imageSize) {
    this.copies.want(bitmap, width, height);
  }

  requestDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.drawNow();
    });
  }

  /**
   * A drag starts: until thaw(), every shape but the selected one stays as it is, so they are
   * drawn once into a layer of their own and each frame of the drag redraws only the
   * selected shape over it (with 2,000 boxes on a frame that is the difference at 60 fps).
   */
  freeze() {
    const editor = this.editor;
    const renderer = this.renderer;
    const layer = document.createElement("canvas");
    layer.width = renderer.shapeCanvas.width;
    layer.height = renderer.shapeCanvas.height;
    const still = editor.items().filter((item) => !editor.isSelected(item));
    const saved = renderer.shapeCtx;
    renderer.shapeCtx = layer.getContext("2d");
    renderer.drawShapes(this.shapesHidden ? [] : still, this.view, this.shapeOptions(null));
    renderer.shapeCtx = saved;
    this.frozen = { canvas: layer, key: this.frozenKey() };
  }

  thaw() {
    this.frozen = null;
  }

  /** What a frozen layer was drawn for: it is used only while all of it still holds. */
  frozenKey() {
    const { editor, view, renderer } = this;
    const selection = JSON.stringify(editor.selection);
    const size = [renderer.shapeCanvas.width, renderer.shapeCanvas.height];
    return [editor.revision, editor.frame, view.scale, view.x, view.y, ...size, selection].join("|");
  }

  shapeOptions(under) {
    const editor = this.editor;
    return {
      under,
      total: this.shapesHidden ? 0 : editor.items().length, // labels are drawn up to 400
      colors: editor.colors,
      skeleton: editor.schema.skeleton,
      sides: editor.sides,
      isSelected: (item) => editor.isSelected(item),
      selectedPoint: editor.selectedPoint,
      errors: editor.errors,
      errorKey: (item) => editor.errorKeyOf(item),
      editable: editor.editable,
      draft: this.draft,
      currentLabel: editor.currentLabel,
    };
  }

  drawNow() {
    const editor = this.editor;
    if (!editor.frames?.length || !editor.frames[0].width) return;
    const started = performance.now();
    const { width, height } = editor.imageSize;
    if (this.imageDirty) {
      const copy = this.copies.get(this.bitmap);
      this.renderer.drawImage(this.bitmap, this.view, width, height, copy);
      if (!copy) this.prepareImage(this.bitmap); // for the next time (zoomed, say)
      this.imageDirty = false;
    }
    const items = this.shapesHidden ? [] : editor.items();
    if (this.frozen && this.frozen.key === this.frozenKey()) {
      const moving = items.filter((item) => editor.isSelected(item));
      this.renderer.drawShapes(moving, this.view, this.shapeOptions(this.frozen.canvas));
    } else {
      this.renderer.drawShapes(items, this.view, this.shapeOptions(null));
    }
    for (const paint of this.overlays) paint();
    this.stats.draws += 1;
    this.stats.drawMs += performance.now() - started;
  }

  setView(view) {
    this.view = view;
    this.imageDirty = true;
    this.requestDraw();
  }

  /** The view that shows the whole current image. */
  fitted() {
    const { width, height } = this.editor.imageSize;
    return fitView(width, height, this.renderer.width, this.renderer.height);
  }

  fit() {
    this.setView(this.fitted());
  }

  /** Zoom by `factor` around a screen point (the stage's centre by default). */
  zoom(factor, sx = this.renderer.width / 2, sy = this.renderer.height / 2) {
    this.setView(zoomAt(this.view, factor, sx, sy));
  }

  toggleShapes() {
    this.shapesHidden = !this.shapesHidden;
    this.requestDraw();
  }

  /** A pointer event in stage pixels (sx, sy) and image pixels (ix, iy). */
  pointer(event) {
    const rect = this.stage.getBoundingClientRect();
    const sx = event.clientX - rect.left;
    const sy = event.clientY - rect.top;
    const [ix, iy] = toImage(this.view, sx, sy);
    return { sx, sy, ix, iy };
  }
}
