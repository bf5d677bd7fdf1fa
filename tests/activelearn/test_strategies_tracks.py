"""Track risk on synthetic tracks with known answers: a segment where two people cross ranks
above a calm one and says which tracks and frames; identities lost in the open, unsure optical
flow, dips of the model's confidence and propagation that disagrees with the model each raise
the frames they happen on; the scores do not depend on the order of the rows."""

from __future__ import annotations

import numpy as np
import pytest

from activelearn.strategies import STRATEGIES, blend
from activelearn.strategies.tracks import track_risk_report, track_risk_scores

SIZE = (640.0, 360.0)


def walk(track, frames, x0, step, y=150.0, confidence=0.9):
    return [(f, track, x0 + step * i, y, 30.0, 70.0, confidence) for i, f in enumerate(frames)]


def crossing(first=40, frames=20):
    """#3 walks right, #7 walks left along one line: their boxes overlap around frame 50."""
    span = range(first, first + frames)
    return walk(3, span, 200, 6) + walk(7, span, 320, -6)


def calm(first=0, frames=20):
    span = range(first, first + frames)
    return walk(1, span, 100, 3, y=50) + walk(2, span, 400, 3, y=250)


def segments(*parts):
    rows = [row for part in parts for row in part]
    index = [i for i, part in enumerate(parts) for _ in part]
    frames = [[min(r[0] for r in part), max(r[0] for r in part)] for part in parts]
    return (
        np.array(rows),
        np.array(index),
        len(parts),
        np.array(frames),
        np.array([SIZE] * len(parts)),
    )


def test_a_segment_where_two_people_cross_ranks_above_a_calm_one_and_says_why():
    rows, index, n, frames, sizes = segments(calm(), crossing())
    report = track_risk_report(rows, index, n, frame_ranges=frames, image_sizes=sizes)
    assert report.scores[1] > 0.9 > 0.05 > report.scores[0]
    reason = report.reasons[1][0]
    assert reason["kind"] == "collision" and reason["tracks"] == [3, 7]
    first, last = reason["frames"]
    assert 44 <= first < 50 < last <= 56 and reason["peak"] in (49, 50, 51)
    assert reason["text"] == f"collision of #3 and #7 at frames {first}\u2013{last}"
    assert report.reasons[0] == []


def test_the_scores_follow_the_segments_whatever_the_order_of_the_rows():
    rows, index, n, frames, sizes = segments(calm(), crossing(), calm(100))
    scores = track_risk_scores(rows, index, n, frame_ranges=frames, image_sizes=sizes)
    order = np.random.default_rng(1).permutation(len(rows))
    again = track_risk_scores(rows[order], index[order], n, frame_ranges=frames, image_sizes=sizes)
    np.testing.assert_allclose(again, scores)
    assert np.argmax(scores) == 1


def test_a_track_that_ends_in_the_open_is_a_lost_identity_but_one_leaving_the_image_is_not():
    span = range(0, 20)
    lost = walk(1, span, 100, 3)[:12]  # ends at frame 11 in the middle of the field
    leaving = walk(2, span, 500, 10)[:12]  # ends at x = 610 + 30: at the border
    report = track_risk_report(
        np.array(lost + leaving + walk(3, span, 300, 0, y=20)),
        frame_ranges=np.array([[0, 19]]),
        image_sizes=np.array([SIZE]),
    )
    kinds = [(r["kind"], r["tracks"], r["frames"]) for r in report.reasons[0]]
    assert ("lost", [1], [11, 11]) in kinds
    assert not any(kind == "lost" and tracks == [2] for kind, tracks, _ in kinds)
    assert report.frame_risk[0][11] > 0.5 > report.frame_risk[0][5]
    assert "#1 ends away from the border at frame 11" in [r["text"] for r in report.reasons[0]]


def test_a_dip_of_the_models_confidence_along_a_track_raises_its_frames():
    rows = walk(1, range(10), 100, 3)
    rows[6] = (*rows[6][:6], 0.3)  # 0.9 elsewhere
    report = track_risk_report(
        np.array(rows), frame_ranges=np.array([[0, 9]]), image_sizes=np.array([SIZE])
    )
    assert report.frames[0].tolist() == list(range(10))
    risk = report.frame_risk[0]
    assert np.argmax(risk) == 6 and risk[6] > 0.3 and risk[2] == 0
    (reason,) = track_risk_report(np.array(rows)).reasons[0]
    assert reason["kind"] == "dip" and reason["frames"] == [6, 6]


def test_unsure_optical_flow_and_propagation_the_model_disagrees_with_raise_their_frames():
    predicted = walk(1, range(10), 100, 3)
    carried = [(f, 1, x, y, w, h, 0.95) for f, _, x, y, w, h, _ in predicted]
    carried[3] = (*carried[3][:6], 0.2)  # forward-backward error on frame 3
    carried[7] = (7, 1, 100 + 3 * 7 + 40, 150.0, 30.0, 70.0, 0.9)  # drifted off the person
    report = track_risk_report(np.array(predicted), propagated=np.array(carried))
    kinds = {(r["kind"], tuple(r["frames"])) for r in report.reasons[0]}
    assert ("flow", (3, 3)) in kinds and ("disagreement", (7, 7)) in kinds
    risk = report.frame_risk[0]
    assert risk[3] > 0.5 and risk[7] > 0.5 and risk[0] < 0.1


def test_the_frame_risk_ranks_the_crossing_frames_first():
    span = range(100)
    # Two people who meet at frame 50, two who never do; no confidence column.
    rows = walk(3, span, 100, 2) + walk(7, span, 300, -2) + calm(0, 100)
    report = track_risk_report(
        np.array(rows)[:, :6], frame_ranges=np.array([[0, 99]]), image_sizes=np.array([SIZE])
    )
    assert report.frames[0].tolist() == list(range(100))
    risk = report.frame_risk[0]
    top = np.argsort(-risk, kind="stable")[:5]
    assert set(top.tolist()) <= set(range(45, 56)) and 50 in top


def test_track_risk_is_registered_and_blends_with_other_strategies():
    strategy = STRATEGIES["track_risk"]
    assert strategy.needs == {"tracks"} and strategy.adapter == "tracks" and strategy.every_frame
    rows, index, n, frames, sizes = segments(calm(), crossing(), calm(100))
    risk = track_risk_scores(rows, index, n, frame_ranges=frames, image_sizes=sizes)
    mixed = blend(
        {"track_risk": risk, "margin": np.array([0.5, 0.1, 0.2])}, {"track_risk": 2, "margin": 1}
    )
    assert np.argmax(mixed) == 1


def test_bad_rows_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        track_risk_scores(np.array([[0, 1, np.nan, 0, 1, 1, 1]]))
    with pytest.raises(ValueError, match="segment_index"):
        track_risk_scores(np.array([[0, 1, 0, 0, 1, 1, 1]]), np.array([3]), 2)
