// What the labeling page tells the annotator: the save status in the toolbar and the banners
// above the stage (one per id: showing a banner again replaces it).

import { $ } from "./dom.js";

export class Notices {
  constructor() {
    this.banners = {}; // id -> element
  }

  /** kind: saved | saving | dirty | retrying | error | blocked | idle (styled by label.css). */
  status(kind, text) {
    const el = $("save-status");
    el.dataset.kind = kind;
    el.textContent = text;
    el.title = text;
  }

  /** actions: [{label, run}] or [{label, href}] (opened in a new tab). */
  banner(id, kind, text, actions = []) {
    this.hide(id);
    const el = document.createElement("div");
    el.className = "lb-banner";
    el.dataset.kind = kind;
    el.dataset.banner = id;
    const span = document.createElement("span");
    span.className = "text";
    span.textContent = text;
    el.append(span);
    for (const action of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = action.label;
      if (action.href) {
        button.addEventListener("click", () => window.open(action.href, "_blank", "noopener"));
      } else {
        button.addEventListener("click", action.run);
      }
      el.append(button);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.title = "Dismiss";
    close.addEventListener("click", () => this.hide(id));
    el.append(close);
    $("banners").append(el);
    this.banners[id] = el;
  }

  shows(id) {
    return Boolean(this.banners[id]);
  }

  hide(id) {
    this.banners[id]?.remove();
    delete this.banners[id];
  }

  /** A new task: the previous one's banners go. */
  clear() {
    this.banners = {};
    $("banners").replaceChildren();
  }
}
