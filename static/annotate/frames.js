// Frame images: fetched and decoded ahead (createImageBitmap) around the current frame, so
// that stepping to a neighbouring frame only has to draw an already decoded bitmap.

const PRELOAD_WATCHDOG_MS = 2500;

export class FrameCache {
  constructor(frames, { radius = 4, limit = 24, preloaded = null } = {}) {
    this.frames = frames;
    this.preloaded = preloaded; // the URL the page preloaded, if any
    this.radius = radius;
    this.limit = limit;
    this.entries = new Map(); // position -> {promise, bitmap, error, used}
    this.clock = 0;
  }

  peek(position) {
    const entry = this.entries.get(position);
    if (entry) entry.used = ++this.clock;
    return entry?.bitmap ?? null;
  }

  get(position) {
    let entry = this.entries.get(position);
    if (!entry) {
      entry = { bitmap: null, error: null, used: ++this.clock };
      entry.promise = this._load(this.frames[position].url).then(
        (bitmap) => {
          entry.bitmap = bitmap;
          return bitmap;
        },
        (err) => {
          entry.error = err;
          this.entries.delete(position); // try again next time
          throw err;
        },
      );
      this.entries.set(position, entry);
      this._evict(position);
    }
    entry.used = ++this.clock;
    return entry.promise;
  }

  async _load(url) {
    const attempt = (init = {}) =>
      fetch(url, { credentials: "same-origin", ...init }).then(async (response) => {
        if (!response.ok) throw new Error(`image HTTP ${response.status}`);
        return createImageBitmap(await response.blob());
      });
    if (url !== this.preloaded) return attempt();
    // The page preloads its first image (<link rel=preload as=fetch>). Taking over a preload
    // has been seen to stall now and then in headless chromium: if it does, fetch it anew.
    let timer;
    const fresh = new Promise((resolve, reject) => {
      timer = setTimeout(
        () => attempt({ cache: "reload" }).then(resolve, reject),
        PRELOAD_WATCHDOG_MS,
      );
    });
    try {
      return await Promise.race([attempt(), fresh]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Decode the frames around `center`, nearest first. */
  prefetch(center) {
    const order = [];
    for (let d = 1; d <= this.radius; d++) order.push(center + d, center - d);
    for (const position of order) {
      if (position >= 0 && position < this.frames.length) this.get(position).catch(() => {});
    }
  }

  _evict(keep) {
    if (this.entries.size <= this.limit) return;
    const victims = [...this.entries.entries()]
      .filter(([position, entry]) => position !== keep && entry.bitmap)
      .sort((a, b) => a[1].used - b[1].used);
    while (this.entries.size > this.limit && victims.length) {
      const [position, entry] = victims.shift();
      entry.bitmap.close?.();
      this.entries.delete(position);
    }
  }

  dispose() {
    for (const entry of this.entries.values()) entry.bitmap?.close?.();
    this.entries.clear();
  }
}
