"""Track metrics (annotate.quality.track_metrics): HOTA, IDF1, identity switches and MOTA on
tracks whose answers are known by hand, and the same numbers as TrackEval, the HOTA paper's
reference code, on seeded random scenes (values it gave, and TrackEval itself, run in the
reference readers' environment: tests/reference_readers.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotate.quality.track_metrics import ALPHAS, box_iou_matrix, track_scores, tracks_array
from tests.reference_readers import run_reader


def walk(track: int, frames: range, start: tuple[float, float], step: tuple[float, float]):
    """Rows of one 20x40 box moving at a constant velocity."""
    return [
        (f, track, start[0] + step[0] * i, start[1] + step[1] * i, 20.0, 40.0)
        for i, f in enumerate(frames)
    ]


def crossing_pair(frames: int = 20):
    """Two people walking towards each other along one line."""
    return walk(1, range(frames), (0, 50), (10, 0)) + walk(2, range(frames), (190, 50), (-10, 0))


def relabel(rows, mapping):
    return [(f, mapping(f, t), x, y, w, h) for f, t, x, y, w, h in rows]


def test_a_perfect_prediction_scores_one_whatever_its_track_ids():
    truth = crossing_pair()
    predicted = relabel(truth, lambda f, t: 100 + t)
    scores = track_scores(truth, predicted)
    assert (scores.hota, scores.deta, scores.assa, scores.idf1, scores.mota) == (1, 1, 1, 1, 1)
    assert scores.idsw == 0 and scores.idtp == len(truth)


def test_identities_swapped_where_two_tracks_cross_count_two_switches():
    truth = crossing_pair()
    # The tracker swaps the two identities when the people meet, at frame 10.
    predicted = relabel(truth, lambda f, t: t if f < 10 else 3 - t)
    scores = track_scores(truth, predicted)
    assert scores.idsw == 2
    assert scores.idf1 == pytest.approx(0.5)
    assert scores.deta == pytest.approx(1.0)
    # Each truth identity is half one predicted track, half the other: association Jaccard
    # 10 / (20 + 20 - 10) = 1/3 for every true positive.
    assert scores.assa == pytest.approx(1 / 3)
    assert scores.hota == pytest.approx(np.sqrt(1 / 3))
    assert scores.mota == pytest.approx((40 - 2) / 40)


def test_a_track_lost_and_reborn_under_a_new_id_is_one_switch():
    truth = walk(1, range(10), (0, 0), (5, 0))
    predicted = relabel(truth, lambda f, t: 1 if f < 4 else 2)
    del predicted[4:6]  # missed on frames 4 and 5, then found again as track 2
    scores = track_scores(truth, predicted)
    assert scores.idsw == 1
    assert (scores.idtp, scores.idfn, scores.idfp) == (4, 6, 4)
    assert scores.mota == pytest.approx((8 - 0 - 1) / 10)


def test_nothing_predicted_scores_zero_and_every_truth_box_is_missed():
    scores = track_scores(crossing_pair(), [])
    assert (scores.hota, scores.idf1, scores.mota, scores.idsw) == (0, 0, 0, 0)
    assert scores.idfn == 40


def test_boxes_that_overlap_less_than_the_threshold_are_no_match_for_idf1():
    truth = walk(1, range(5), (0, 0), (0, 0))
    shifted = [(f, 1, x + 10, y, w, h) for f, _, x, y, w, h in truth]  # IoU 10x40/30x40 = 1/3
    assert track_scores(truth, shifted).idf1 == 0
    assert track_scores(truth, shifted, iou_threshold=0.3).idf1 == 1
    # HOTA counts the overlap at its low thresholds: 6 of 19 alphas are <= 1/3.
    assert track_scores(truth, shifted).deta == pytest.approx(np.sum(ALPHAS <= 1 / 3) / 19)


def test_bad_rows_are_refused():
    with pytest.raises(ValueError, match="more than one box on frame 3"):
        tracks_array([(3, 1, 0, 0, 1, 1), (3, 1, 5, 5, 1, 1)])
    with pytest.raises(ValueError, match="NaN"):
        tracks_array([(0, 1, np.nan, 0, 1, 1)])
    with pytest.raises(ValueError, match="rows of"):
        tracks_array([(0, 1, 0, 0)])


def test_iou_of_boxes_given_as_corner_and_size():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 10, 10], [20, 20, 1, 1], [0, 0, 0, 0]])
    np.testing.assert_allclose(box_iou_matrix(a, b), [[50 / 150, 0, 0]])


# --- the same numbers as TrackEval ---------------------------------------------------------


def random_scene(seed: int):
    """A seeded scene: objects walking with jitter (truth), and a tracker that misses boxes,
    adds false ones, drifts, and now and then swaps or renumbers an identity."""
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(15, 40))
    objects = int(rng.integers(2, 7))
    truth, predicted = [], []
    next_id = 50
    for obj in range(objects):
        first = int(rng.integers(0, frames // 3))
        last = int(rng.integers(2 * frames // 3, frames))
        x, y = rng.uniform(0, 300, 2)
        vx, vy = rng.normal(0, 6, 2)
        w, h = rng.uniform(15, 40), rng.uniform(30, 80)
        tracker_id = next_id = next_id + 1
        for f in range(first, last + 1):
            x, y = x + vx + rng.normal(0, 1), y + vy + rng.normal(0, 1)
            truth.append((f, obj + 1, x, y, w, h))
            if rng.random() < 0.1:
                continue  # missed
            if rng.random() < 0.04:
                tracker_id = next_id = next_id + 1  # identity lost, reborn
            dx, dy = rng.normal(0, 0.12 * w), rng.normal(0, 0.12 * h)
            predicted.append((f, tracker_id, x + dx, y + dy, w * rng.uniform(0.8, 1.2), h))
    for _ in range(int(rng.integers(0, frames // 2))):
        next_id += 1
        f = int(rng.integers(0, frames))
        predicted.append((f, next_id, *rng.uniform(0, 300, 2), 25.0, 50.0))  # false positive
    # Two identities swapped from a frame on.
    ids = sorted({row[1] for row in predicted})
    if len(ids) >= 2:
        a, b = rng.choice(ids, 2, replace=False)
        at = int(rng.integers(0, frames))
        swap = {a: b, b: a}
        predicted = [
            (f, swap.get(t, t) if f >= at else t, x, y, w, h) for f, t, x, y, w, h in predicted
        ]
    return truth, predicted


SEEDS = list(range(8))
# TrackEval 1.3.0 on random_scene(seed) (HOTA, DetA, AssA: means over its 19 alphas; IDF1
# and CLEAR at IoU 0.5), computed with TRACKEVAL_SCRIPT below.
TRACKEVAL = {
    0: {
        "hota": 0.508165750169,
        "deta": 0.55021489284,
        "assa": 0.469604120009,
        "idf1": 0.723404255319,
        "idsw": 2,
        "mota": 0.710743801653,
    },
    1: {
        "hota": 0.531697225026,
        "deta": 0.596881946409,
        "assa": 0.475144275777,
        "idf1": 0.761290322581,
        "idsw": 6,
        "mota": 0.73417721519,
    },
    2: {
        "hota": 0.475383957556,
        "deta": 0.500436238349,
        "assa": 0.452195781472,
        "idf1": 0.662337662338,
        "idsw": 3,
        "mota": 0.513157894737,
    },
    3: {
        "hota": 0.502373081876,
        "deta": 0.50822776408,
        "assa": 0.498130144227,
        "idf1": 0.614035087719,
        "idsw": 1,
        "mota": 0.557692307692,
    },
    4: {
        "hota": 0.486878191897,
        "deta": 0.561364710768,
        "assa": 0.424335702514,
        "idf1": 0.613240418118,
        "idsw": 7,
        "mota": 0.617021276596,
    },
    5: {
        "hota": 0.440725881108,
        "deta": 0.543750546018,
        "assa": 0.35813126636,
        "idf1": 0.597014925373,
        "idsw": 7,
        "mota": 0.664285714286,
    },
    6: {
        "hota": 0.593062494294,
        "deta": 0.588237114316,
        "assa": 0.598454009721,
        "idf1": 0.901639344262,
        "idsw": 0,
        "mota": 0.8125,
    },
    7: {
        "hota": 0.49266596006,
        "deta": 0.580361716798,
        "assa": 0.419393060171,
        "idf1": 0.669117647059,
        "idsw": 5,
        "mota": 0.723404255319,
    },
}
KEYS = ("hota", "deta", "assa", "idf1", "idsw", "mota")


# Run in the readers' environment with a JSON file of scenes, each {"truth", "predicted"}
# as rows (frame, track, x, y, w, h): TrackEval's own classes, fed the per-frame data its
# datasets build (identities renumbered from 0, every frame a timestep, xywh box IoU).
TRACKEVAL_SCRIPT = """
import json, sys
import numpy as np
import trackeval


def scores(truth, predicted):
    truth = np.array(truth, dtype=float).reshape(-1, 6)
    predicted = np.array(predicted, dtype=float).reshape(-1, 6)
    frames = int(max(truth[:, 0].max(initial=0), predicted[:, 0].max(initial=0))) + 1
    _, truth_ids = np.unique(truth[:, 1], return_inverse=True)
    _, predicted_ids = np.unique(predicted[:, 1], return_inverse=True)
    data = {
        "num_timesteps": frames,
        "num_gt_ids": int(truth_ids.max(initial=-1)) + 1,
        "num_tracker_ids": int(predicted_ids.max(initial=-1)) + 1,
        "num_gt_dets": len(truth),
        "num_tracker_dets": len(predicted),
        "gt_ids": [],
        "tracker_ids": [],
        "similarity_scores": [],
    }
    for f in range(frames):
        t, p = truth[:, 0] == f, predicted[:, 0] == f
        data["gt_ids"].append(truth_ids[t].astype(int))
        data["tracker_ids"].append(predicted_ids[p].astype(int))
        iou = trackeval.datasets._base_dataset._BaseDataset._calculate_box_ious(
            truth[t, 2:6].copy(), predicted[p, 2:6].copy(), box_format="xywh"
        )
        data["similarity_scores"].append(iou)
    quiet = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
    hota = trackeval.metrics.HOTA({"PRINT_CONFIG": False}).eval_sequence(data)
    identity = trackeval.metrics.Identity(quiet).eval_sequence(data)
    clear = trackeval.metrics.CLEAR(quiet).eval_sequence(data)
    return {
        "hota": float(np.mean(hota["HOTA"])),
        "deta": float(np.mean(hota["DetA"])),
        "assa": float(np.mean(hota["AssA"])),
        "idf1": float(identity["IDF1"]),
        "idsw": int(clear["IDSW"]),
        "mota": float(clear["MOTA"]),
    }


with open(sys.argv[1]) as file:
    scenes = json.load(file)
print(json.dumps([scores(s["truth"], s["predicted"]) for s in scenes]))
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_scores_agree_with_what_trackeval_gave_on_random_scenes(seed):
    scores = track_scores(*random_scene(seed)).as_dict()
    assert {k: scores[k] for k in KEYS} == pytest.approx(TRACKEVAL[seed], abs=1e-9)


def test_scores_agree_with_trackeval_itself(tmp_path):
    """TrackEval 1.3.0 itself, on the same scenes as our track_scores: both give the same
    numbers, and they are the ones recorded in TRACKEVAL."""
    scenes = []
    for seed in SEEDS:
        truth, predicted = (tracks_array(rows).tolist() for rows in random_scene(seed))
        scenes.append({"truth": truth, "predicted": predicted})
    (tmp_path / "scenes.json").write_text(json.dumps(scenes))
    answer = run_reader(TRACKEVAL_SCRIPT, str(tmp_path / "scenes.json"))
    assert len(answer) == len(SEEDS)
    for seed, expected in zip(SEEDS, answer, strict=True):
        truth, predicted = random_scene(seed)
        scores = track_scores(truth, predicted).as_dict()
        assert {k: scores[k] for k in KEYS} == pytest.approx(expected, abs=1e-9), seed
        assert expected == pytest.approx(TRACKEVAL[seed], abs=1e-9), seed
