"""The keys the labeling page keeps for itself (static/annotate/shortcuts.js), so that a class
hotkey never lands on one: the page's own shortcut wins, and a class on `d` (next frame) or `q`
(occluded) could never be picked by its key. tests/annotate/test_class_hotkeys.py checks that
this table and the page's agree.
"""

from __future__ import annotations

import string

# One letter each, as the page's shortcut table names them (its help text, shortened).
EDITOR_KEYS = {
    "a": "previous frame",
    "b": "draw boxes",
    "c": "copy to the next frame",
    "d": "next frame",
    "e": "extend the track",
    "f": "fit to the screen",
    "h": "hide shapes",
    "k": "place skeleton points",
    "m": "merge tracks",
    "n": "skip a skeleton point",
    "o": "outside, or a point's visibility",
    "p": "propagate forward",
    "q": "occluded",
    "v": "select",
    "w": "swap track identities",
    "x": "split the track",
}
FREE_KEYS = tuple(key for key in string.digits + string.ascii_lowercase if key not in EDITOR_KEYS)


def hotkey_problem(key: str) -> str | None:
    """Why `key` cannot be a class hotkey, in words, or None. An empty key is no hotkey."""
    if not key:
        return None
    if len(key) != 1 or key not in string.digits + string.ascii_lowercase:
        return "One lower-case letter or digit."
    if key in EDITOR_KEYS:
        return (
            f"“{key}” is the labeling page's key for {EDITOR_KEYS[key]}. "
            f"Free keys: {', '.join(FREE_KEYS)}."
        )
    return None
