"""The page's pure modules (geometry, interpolation, undo, the document model), run in
chromium exactly as the page loads them."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def modules(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/static/annotate/label.css")

    def run(script: str):
        return page.evaluate(
            f"""async () => {{
                const g = await import("/static/annotate/geometry.js");
                const i = await import("/static/annotate/interpolate.js");
                const u = await import("/static/annotate/undo.js");
                const m = await import("/static/annotate/model.js");
                {script}
            }}"""
        )

    yield run
    page.close()


def test_boxes_drawn_past_the_edge_are_clipped_to_the_image(modules):
    assert modules("return g.boxFromCorners(-10, 50, 120, 700, 100, 600);") == {
        "x": 0, "y": 50, "w": 100, "h": 550,
    }  # fmt: skip


def test_moving_a_box_keeps_it_whole_inside_the_image(modules):
    box = modules("return g.moveBox({x: 10, y: 10, w: 50, h: 50}, 500, -500, 100, 100);")
    assert box == {"x": 50, "y": 0, "w": 50, "h": 50}


def test_resizing_by_a_handle_keeps_the_opposite_side(modules):
    box = modules("return g.resizeBox({x: 10, y: 10, w: 50, h: 50}, 'nw', 0, 30, 100, 100);")
    assert box == {"x": 0, "y": 30, "w": 60, "h": 30}


def test_zooming_at_a_point_keeps_that_point_under_the_pointer(modules):
    before, after = modules(
        """const v = {scale: 0.5, x: 10, y: 20};
           const z = g.zoomAt(v, 2, 110, 70);
           return [g.toImage(v, 110, 70), g.toImage(z, 110, 70)];"""
    )
    assert before == after


def test_boxes_interpolate_linearly_between_keyframes_and_stay_after_the_last(modules):
    value = modules(
        """const kf = [
             {type: "box", frame: 0, x: 0, y: 0, w: 10, h: 10},
             {type: "box", frame: 4, x: 40, y: 8, w: 30, h: 10},
           ];
           const at = i.shapeAtFrame(kf, 1);
           const after = i.shapeAtFrame(kf, 9);
           return [at.interpolated, at.value.x, at.value.y, at.value.w,
                   [after.held, after.value.x, after.value.frame], i.shapeAtFrame(kf, -1)];"""
    )
    assert value == [True, 10, 2, 15, [True, 40, 9], None]


def test_keypoints_interpolate_only_where_both_keyframes_labeled_them(modules):
    points = modules(
        """return i.interpolatePoints(
             {a: [0, 0, 2], b: [5, 5, 1], c: [0, 0, 0]},
             {a: [10, 20, 2], b: [0, 0, 0], c: [7, 7, 2]}, 0.5);"""
    )
    assert points == {"a": [5, 10, 2], "b": [5, 5, 1], "c": [0, 0, 0]}


def test_undo_and_redo_walk_the_history_and_a_new_change_drops_the_redo_branch(modules):
    assert modules(
        """const s = new u.UndoStack();
           s.push("a"); s.push("b");
           const back = s.undo("c");
           const forward = s.redo(back);
           s.undo("c"); s.push("x");
           return [back, forward, s.canRedo()];"""
    ) == ["b", "c", False]


def test_splitting_and_merging_a_track_round_trips(modules):
    result = modules(
        """const d = m.emptyDoc();
           const t = m.newTrack(d, "person");
           const box = {type: "box", label: "person", track: t, y: 0, w: 10, h: 10};
           m.addShape(d, {...box, frame: 0, x: 0});
           m.addShape(d, {...box, frame: 4, x: 40});
           const created = m.splitTrack(d, t, 2);
           const split = m.trackList(d, 6).map((x) => [x.number, x.ranges]);
           m.mergeTracks(d, [t, created]);
           const merged = m.trackList(d, 6).map((x) => [x.number, x.ranges, x.keyframes]);
           return [split, merged];"""
    )
    # Track 1 ends where #2 begins; merged back, the new keyframes on frames 1 and 2 stay.
    assert result == [[[1, [[0, 1]]], [2, [[2, 5]]]], [[1, [[0, 5]], 4]]]


def test_the_payload_holds_a_tracks_keyframes_only_with_its_outside_ones(modules):
    payload = modules(
        """const d = m.emptyDoc();
           const t = m.newTrack(d, "person");
           const box = {type: "box", label: "person", track: t, y: 0, w: 10, h: 10};
           m.addShape(d, {...box, frame: 0, x: 0});
           m.addShape(d, {...box, frame: 2, x: 20});
           m.addShape(d, {...box, frame: 3, x: 20, outside: true});
           const frames = [{id: 7}, {id: 8}, {id: 9}, {id: 10}];
           const {payload} = m.toPayload(d, frames);
           const again = m.toPayload(m.fromPayload(payload, frames), frames).payload;
           return [payload.boxes.map((b) => [b.frame, b.keyframe, b.outside, b.x]), payload.tracks,
                   JSON.stringify(again) === JSON.stringify(payload)];"""
    )
    assert payload == [
        [[7, True, False, 0], [9, True, False, 20], [10, True, True, 20]],
        [{"number": 1, "label": "person"}],
        True,
    ]


def test_extending_a_track_copies_its_nearest_keyframe_and_interpolation_fills_the_gap(modules):
    result = modules(
        """const d = m.emptyDoc();
           const t = m.newTrack(d, "person");
           const box = {type: "box", label: "person", track: t, y: 0, w: 10, h: 10};
           m.addShape(d, {...box, frame: 0, x: 0});
           m.addShape(d, {...box, frame: 2, x: 20});
           const added = m.extendTrack(d, t, "box", 6);
           const again = m.extendTrack(d, t, "box", 6);
           const at4 = m.shapesAt(d, 4)[0];
           return [added.x, again, at4.interpolated, at4.value.x, m.keyframesOf(d, t)];"""
    )
    assert result == [20, None, True, 20, [0, 2, 6]]
