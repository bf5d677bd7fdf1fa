// Small helpers shared by the labeling page's modules.

export const $ = (id) => document.getElementById(id);

/** "/api/tasks/{id}/payload/" with the id filled in. */
export const url = (template, id) => template.replace("{id}", String(id));

/** Order-free comparison key of a payload (the server keeps insertion order, we may not). */
export function canonical(payload) {
  const sortJson = (list) => (list || []).map((x) => JSON.stringify(x)).sort();
  return JSON.stringify([
    sortJson(payload.tracks),
    sortJson(payload.boxes),
    sortJson(payload.keypoints),
  ]);
}
