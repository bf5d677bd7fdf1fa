// Pure geometry of the labeling page: boxes, handles, hit tests and the view transform.
// No DOM access here, so it can be tested on its own.

export const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

export function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}

/** A box from two corners, clipped to the image [0, width] x [0, height]. */
export function boxFromCorners(x1, y1, x2, y2, width, height) {
  const left = clamp(Math.min(x1, x2), 0, width);
  const right = clamp(Math.max(x1, x2), 0, width);
  const top = clamp(Math.min(y1, y2), 0, height);
  const bottom = clamp(Math.max(y1, y2), 0, height);
  return { x: left, y: top, w: right - left, h: bottom - top };
}

/** Move a box by (dx, dy), keeping it whole inside the image. */
export function moveBox(box, dx, dy, width, height) {
  return {
    x: clamp(box.x + dx, 0, Math.max(0, width - box.w)),
    y: clamp(box.y + dy, 0, Math.max(0, height - box.h)),
    w: box.w,
    h: box.h,
  };
}

/** Resize by dragging one handle to (px, py); the opposite side stays where it was. */
export function resizeBox(box, handle, px, py, width, height, minSize = 1) {
  let left = box.x;
  let top = box.y;
  let right = box.x + box.w;
  let bottom = box.y + box.h;
  px = clamp(px, 0, width);
  py = clamp(py, 0, height);
  if (handle.includes("w")) left = Math.min(px, right - minSize);
  if (handle.includes("e")) right = Math.max(px, left + minSize);
  if (handle.includes("n")) top = Math.min(py, bottom - minSize);
  if (handle.includes("s")) bottom = Math.max(py, top + minSize);
  left = clamp(left, 0, width);
  top = clamp(top, 0, height);
  right = clamp(right, 0, width);
  bottom = clamp(bottom, 0, height);
  return { x: left, y: top, w: right - left, h: bottom - top };
}

export function handlePoints(box) {
  const { x, y, w, h } = box;
  return {
    nw: [x, y],
    n: [x + w / 2, y],
    ne: [x + w, y],
    e: [x + w, y + h / 2],
    se: [x + w, y + h],
    s: [x + w / 2, y + h],
    sw: [x, y + h],
    w: [x, y + h / 2],
  };
}

/** The handle of `box` under the image point (px, py), within `tol` image pixels. */
export function handleAt(box, px, py, tol) {
  const points = handlePoints(box);
  for (const name of HANDLES) {
    const [hx, hy] = points[name];
    if (Math.abs(px - hx) <= tol && Math.abs(py - hy) <= tol) return name;
  }
  return null;
}

export function insideBox(box, px, py, tol = 0) {
  return (
    px >= box.x - tol && px <= box.x + box.w + tol && py >= box.y - tol && py <= box.y + box.h + tol
  );
}

/** The smallest box under the point wins, so a small box inside a big one stays reachable. */
export function topmostBoxAt(boxes, px, py, tol = 0) {
  let best = null;
  let bestArea = Infinity;
  for (const item of boxes) {
    if (insideBox(item.box, px, py, tol)) {
      const area = item.box.w * item.box.h;
      if (area < bestArea) {
        best = item;
        bestArea = area;
      }
    }
  }
  return best;
}

export function distance(ax, ay, bx, by) {
  return Math.hypot(ax - bx, ay - by);
}

// -- view: screen = image * scale + offset -----------------------------------------------

export function fitView(imageWidth, imageHeight, viewWidth, viewHeight, margin = 8) {
  const scale = Math.min(
    (viewWidth - 2 * margin) / imageWidth,
    (viewHeight - 2 * margin) / imageHeight,
  );
  const safe = Number.isFinite(scale) && scale > 0 ? scale : 1;
  // Centred on whole pixels, where the canvas copies a frame's image rather than resampling
  // it (canvas.js, Renderer.drawImage).
  return {
    scale: safe,
    x: Math.round((viewWidth - imageWidth * safe) / 2),
    y: Math.round((viewHeight - imageHeight * safe) / 2),
  };
}

export function zoomAt(view, factor, sx, sy, minScale = 0.02, maxScale = 40) {
  const scale = clamp(view.scale * factor, minScale, maxScale);
  const ratio = scale / view.scale;
  return { scale, x: sx - (sx - view.x) * ratio, y: sy - (sy - view.y) * ratio };
}

export function toImage(view, sx, sy) {
  return [(sx - view.x) / view.scale, (sy - view.y) / view.scale];
}

export function toScreen(view, ix, iy) {
  return [ix * view.scale + view.x, iy * view.scale + view.y];
}
