"""Small page helpers for the labeling tests: open a task, map image pixels to the screen,
drag, wait for the autosave."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def open_label_page(page: Page, base_url: str, path: str, *, loads: int = 1) -> None:
    page.goto(base_url + path)
    wait_ready(page, loads)


def wait_ready(page: Page, loads: int = 1) -> None:
    page.wait_for_function(
        "n => Number(document.documentElement.dataset.labelReady || 0) >= n", arg=loads
    )


def screen(page: Page, ix: float, iy: float) -> tuple[float, float]:
    x, y = page.evaluate(
        """([x, y]) => {
            const app = window.labelApp;
            const r = app.stage.getBoundingClientRect();
            const v = app.view;
            return [r.left + x * v.scale + v.x, r.top + y * v.scale + v.y];
        }""",
        [ix, iy],
    )
    return x, y


def drag(page: Page, start: tuple[float, float], end: tuple[float, float], steps: int = 6) -> None:
    page.mouse.move(*screen(page, *start))
    page.mouse.down()
    page.mouse.move(*screen(page, *end), steps=steps)
    page.mouse.up()


def click_image(page: Page, ix: float, iy: float, *, modifiers: list[str] | None = None) -> None:
    x, y = screen(page, ix, iy)
    for key in modifiers or []:
        page.keyboard.down(key)
    page.mouse.click(x, y)
    for key in modifiers or []:
        page.keyboard.up(key)


def wait_saved(page: Page, timeout: float = 15_000) -> None:
    expect(page.locator("#save-status")).to_have_attribute("data-kind", "saved", timeout=timeout)


def shapes(page: Page) -> list[dict]:
    return page.evaluate("() => structuredClone(window.labelApp.doc.shapes)")


def api_json(page: Page, path: str) -> dict:
    response = page.request.get(path)
    assert response.ok, response.text()
    return response.json()


def go_to_frame(page: Page, position: int) -> None:
    """Show the task's frame at `position` (0-based) and wait until it is drawn."""
    page.evaluate("async (n) => { await window.labelApp.setFrame(n); }", position)
    expect(page.locator("#frame-label")).to_contain_text(f"Frame {position + 1} /")


def track_here(page: Page, track: int, type_: str = "box") -> dict | None:
    """The track's shape on the frame shown: {x, y, w, h, keyframe, held}, or None."""
    return page.evaluate(
        """([track, type]) => {
            const item = window.labelApp.items().find((i) => i.track === track && i.type === type);
            if (!item) return null;
            const v = item.value;
            return {x: Math.round(v.x), y: Math.round(v.y), w: Math.round(v.w),
                    h: Math.round(v.h), keyframe: Boolean(item.keyframe), held: item.held};
        }""",
        [track, type_],
    )


def keyframes(page: Page, track: int) -> list[list]:
    """[[frame, outside], ...] of the track's stored keyframes, by frame."""
    return page.evaluate(
        """(track) => window.labelApp.doc.shapes.filter((s) => s.track === track)
            .map((s) => [s.frame, Boolean(s.outside)]).sort((a, b) => a[0] - b[0])""",
        track,
    )
