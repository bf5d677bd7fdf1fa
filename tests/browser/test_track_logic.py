"""The track logic of the page's pure modules (interpolate.js, model.js, track_risk.js), run
in chromium as the page loads them: outside keyframes, a track lasting to the end, swapping,
splitting and merging identities, keyframe navigation and likely identity switches."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A document with track 1 (person) keyframed on frames 0 (x 0) and 4 (x 40), and helpers.
PRELUDE = """
const i = await import("/static/annotate/interpolate.js");
const m = await import("/static/annotate/model.js");
const r = await import("/static/annotate/track_risk.js");
const d = m.emptyDoc();
const box = (track, frame, x, extra = {}) => m.addShape(d, {type: "box", label: "person",
  track, frame, x, y: 0, w: 10, h: 10, ...extra});
const t = m.newTrack(d, "person");
box(t, 0, 0);
box(t, 4, 40);
const xs = (track, count = 10) => Array.from({length: count}, (_, f) =>
  m.shapesAt(d, f).find((s) => s.track === track)?.value.x ?? null);
"""


@pytest.fixture
def run(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/static/annotate/label.css")
    yield lambda script: page.evaluate(f"async () => {{ {PRELUDE} {script} }}")
    page.close()


def test_an_outside_keyframe_hides_the_track_until_its_next_keyframe(run):
    assert run(
        """box(t, 6, 0, {outside: true}); box(t, 8, 80);
           return xs(t);"""
    ) == [0, 10, 20, 30, 40, 40, None, None, 80, 80]


def test_marking_outside_keeps_the_frames_before_as_they_were(run):
    result = run(
        """const before = xs(t);
           const what = m.toggleOutside(d, t, 2, "box");
           return [what, before, xs(t)];"""
    )
    assert result == [
        "outside",
        [0, 10, 20, 30, 40, 40, 40, 40, 40, 40],
        [0, 10, None, None, 40, 40, 40, 40, 40, 40],
    ]


def test_outside_on_a_later_frame_brings_the_track_back_where_it_was_last_seen(run):
    result = run(
        """m.toggleOutside(d, t, 6, "box");
           const gone = xs(t);
           const what = m.toggleOutside(d, t, 8, "box");
           const back = xs(t);
           m.toggleOutside(d, t, 6, "box");  // on the outside frame itself: undone
           return [gone, what, back, xs(t)];"""
    )
    assert result == [
        [0, 10, 20, 30, 40, 40, None, None, None, None],
        "back",
        [0, 10, 20, 30, 40, 40, None, None, 40, 40],
        [0, 10, 20, 30, 40, 40, 40, 40, 40, 40],
    ]


def test_outside_applies_to_the_box_and_the_skeleton_of_one_track(run):
    assert run(
        """m.addShape(d, {type: "kp", label: "person", track: t, frame: 0,
                         points: {nose: [5, 5, 2]}});
           m.toggleOutside(d, t, 3, "box");
           const on = (f) => ["box", "kp"].map((type) =>
             m.shapesAt(d, f).some((s) => s.track === t && s.type === type));
           return [on(2), on(3), on(5)];"""
    ) == [[True, True], [False, False], [True, False]]  # the box's keyframe on 4 is back


def test_swapping_two_tracks_exchanges_what_follows_and_keeps_what_was_before(run):
    result = run(
        """const u = m.newTrack(d, "person");
           box(u, 0, 100);
           box(u, 8, 180);
           const [a, b] = [xs(t), xs(u)];
           m.swapTracks(d, t, u, 3);
           return [xs(t), xs(u), a.slice(3), b.slice(3)];"""
    )
    swapped_t, swapped_u, t_tail, u_tail = result
    assert swapped_t[:3] == [0, 10, 20] and swapped_u[:3] == [100, 110, 120]
    assert swapped_t[3:] == u_tail and swapped_u[3:] == t_tail


def test_swapping_with_a_track_that_starts_later_leaves_a_gap_until_it_starts(run):
    result = run(
        """const u = m.newTrack(d, "person");
           box(u, 6, 300);
           m.swapTracks(d, t, u, 2);
           return [xs(t), xs(u)];"""
    )
    assert result == [
        [0, 10, None, None, None, None, 300, 300, 300, 300],
        [None, None, 20, 30, 40, 40, 40, 40, 40, 40],
    ]


def test_tracks_of_two_classes_do_not_swap(run):
    assert run(
        """const u = m.newTrack(d, "bicycle");
           box(u, 0, 100, {label: "bicycle"});
           return m.swapTracks(d, t, u, 2);"""
    ) == {"error": "Track #1 is a person and #2 a bicycle: only tracks of one class swap."}


def test_split_ends_the_track_and_the_new_one_lasts_to_the_end(run):
    assert run(
        """const created = m.splitTrack(d, t, 2);
           return [xs(t), xs(created)];"""
    ) == [
        [0, 10, None, None, None, None, None, None, None, None],
        [None, None, 20, 30, 40, 40, 40, 40, 40, 40],
    ]


def test_merging_a_track_that_ended_with_one_that_starts_later_joins_them(run):
    result = run(
        """m.toggleOutside(d, t, 5, "box");
           const u = m.newTrack(d, "person");
           box(u, 5, 50);
           box(u, 9, 90);
           const target = m.mergeTracks(d, [u, t]);
           return [target, xs(t), Object.keys(d.tracks)];"""
    )
    # On frame 5 the other track's shape beats the first one's outside keyframe.
    assert result == [1, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90], ["1"]]


def test_keyframe_navigation_walks_a_tracks_keyframes_outside_ones_too(run):
    assert run(
        """box(t, 7, 0, {outside: true});
           return [m.adjacentKeyframe(d, t, 2, 1), m.adjacentKeyframe(d, t, 4, 1),
                   m.adjacentKeyframe(d, t, 7, 1), m.adjacentKeyframe(d, t, 4, -1),
                   m.adjacentKeyframe(d, t, 0, -1)];"""
    ) == [4, 7, None, 0, None]


def test_presence_says_why_a_track_is_not_on_a_frame(run):
    assert run(
        """box(t, 6, 0, {outside: true}); box(t, 8, 80);
           return [m.presence(d, t, 3), m.presence(d, t, 7).reason];"""
    ) == [
        {"present": True, "type": "box", "reason": ""},
        "it is outside from frame 7 until frame 9",
    ]


def test_the_track_list_gives_each_stretch_where_a_track_is_present(run):
    assert run(
        """box(t, 6, 0, {outside: true}); box(t, 8, 80);
           const [row] = m.trackList(d, 10);
           return [row.ranges, row.keyframes, row.outside, row.start, row.end];"""
    ) == [[[0, 5], [8, 9]], 3, 1, 0, 9]


def test_a_stored_frame_that_is_not_a_keyframe_is_left_to_interpolation(run):
    assert run(
        """const frames = [{id: 1}, {id: 2}, {id: 3}];
           const row = (frame, x, keyframe) => ({frame, label: "person", track: 1, keyframe,
             x, y: 0, w: 5, h: 5});
           const doc = m.fromPayload({tracks: [{number: 1, label: "person"}],
             boxes: [row(1, 0, true), row(2, 99, false), row(3, 20, true)]}, frames);
           return doc.shapes.map((s) => s.x);"""
    ) == [0, 20]


def test_crossing_boxes_of_two_tracks_are_one_likely_switch_at_their_strongest_overlap(run):
    risks = run(
        """const u = m.newTrack(d, "person");
           box(u, 0, 40);
           box(u, 4, 0);
           return r.identityRisks(d, {frameCount: 5, width: 1000, height: 1000, margin: 0});"""
    )
    assert risks == [
        {"kind": "overlap", "frame": 2, "first": 2, "last": 2, "tracks": [1, 2], "iou": 1},
    ]


def test_a_track_appearing_or_vanishing_in_the_open_is_a_likely_switch(run):
    risks = run(
        """const u = m.newTrack(d, "person");
           box(u, 3, 500, {y: 500});
           box(u, 6, 500, {y: 500, outside: true});
           box(t, 2, 0, {outside: true});  // track 1 leaves at the border: not listed
           return r.identityRisks(d, {frameCount: 10, width: 1000, height: 1000})
             .map((x) => [x.kind, x.frame, x.tracks]);"""
    )
    assert risks == [["appears", 3, [2]], ["vanishes", 5, [2]]]


def test_risks_are_described_in_words(run):
    assert run(
        """return [
             r.describeRisk({kind: "overlap", frame: 4, first: 3, last: 6, tracks: [2, 5],
                             iou: 0.5}),
             r.describeRisk({kind: "appears", frame: 0, tracks: [3]})];"""
    ) == [
        "Frame 5: #2 and #5 overlap, IoU 0.5 (frames 4–7)",
        "Frame 1: #3 appears away from the border",
    ]
