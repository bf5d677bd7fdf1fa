"""The batch check of pushed rows (rows_data, vectorized for class probabilities and boxes) is
the one-row check (row_data) over many rows: the same rows, good and bad, fed through both
give the same stored data and the same messages; and the vectorized part does take the
common rows (it is not row_data called row by row)."""

from __future__ import annotations

import json
import math
import random

import pytest

from activelearn.predictions import rows as rows_module
from activelearn.predictions.rows import RowContext, RowError, row_data, rows_data

CLASSES = ["person", "bicycle", "car"]
CTX = RowContext(classes=CLASSES, keypoints={"nose"})

NUMBERS = [
    0.0,
    0.5,
    1.0,
    0.999,
    1.0000001,
    -0.0,
    -1e-9,
    0,
    1,
    2,
    True,
    False,
    None,
    "0.5",
    [0.5],
    math.inf,
    -math.inf,
    math.nan,
    2**60,
    2**53 + 1,
    10**400,
]
COORDS = [0, 10, 10.5, -0.5, -1.0, -1.5, 300, 639.0, 640, 1e6, -3, *NUMBERS]


def _number(rng: random.Random, good: list) -> object:
    return rng.choice(good) if rng.random() < 0.8 else rng.choice(NUMBERS)


def _probs(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.75:
        return [_number(rng, [rng.random(), 0.25, 1.0, 0.0]) for _ in CLASSES]
    if roll < 0.85:
        return [rng.random() for _ in range(rng.choice([0, 1, 2, 4]))]
    return rng.choice([None, "0.5", 0.5, {"a": 1}, [], [[0.1, 0.2, 0.7]]])


def _box(rng: random.Random) -> object:
    if rng.random() < 0.03:
        return rng.choice([None, [1, 2, 3, 4], "box", 5])
    box: dict = {}
    for key, good in (
        ("x", [0, 12.5, 100.0, 600.0]),
        ("y", [0, 7.25, 200.0, 470.0]),
        ("w", [1, 30.0, 40.5, 600]),
        ("h", [1, 25.0, 80.5, 470]),
    ):
        if rng.random() < 0.97:
            box[key] = rng.choice(good) if rng.random() < 0.85 else rng.choice(COORDS)
    roll = rng.random()
    if roll < 0.5:
        box["score"] = _number(rng, [0.9, 0.3, rng.random()])
    elif roll < 0.6:
        box["score"] = None
    roll = rng.random()
    if roll < 0.5:
        box["label"] = rng.choice(CLASSES)
    elif roll < 0.6:
        box["label"] = rng.choice([None, "dog", 1, "", ["person"]])
    roll = rng.random()
    if roll < 0.6:
        box["class_probs"] = _probs(rng)
    elif roll < 0.65:
        box["class_probs"] = None
    if rng.random() < 0.05:
        box["track"] = rng.choice([1, 7, 0, -1, True, 2.0, None, 2**40])
    if rng.random() < 0.05:
        box["extra"] = "ignored"
    return box


def _row(rng: random.Random) -> dict:
    row: dict = {"external_key": "cam/1", "model_version": "v1"}
    roll = rng.random()
    if roll < 0.4:
        row["probs"] = _probs(rng)
    elif roll < 0.85:
        row["boxes"] = (
            [_box(rng) for _ in range(rng.choice([0, 1, 2, 3, 5]))]
            if rng.random() < 0.95
            else rng.choice([None, {}, "boxes", [[]]])
        )
    elif roll < 0.9:
        row["probs"] = _probs(rng)
        row["boxes"] = [_box(rng)]
    elif roll < 0.95:
        row["score"] = _number(rng, [0.3])
    else:
        row["keypoints"] = [{"points": {"nose": [1, 2, 0.5]}}]
    return row


def _one_by_one(rows: list[dict], sizes: list) -> list:
    out = []
    for row, size in zip(rows, sizes, strict=True):
        try:
            out.append(row_data(row, size, CTX))
        except RowError as error:
            out.append(error)
    return out


def _comparable(result: dict | RowError) -> str:
    if isinstance(result, RowError):
        return f"error: {result}"
    return json.dumps(result, sort_keys=True)


@pytest.mark.parametrize("seed", range(6))
def test_the_batch_check_gives_each_row_what_the_one_row_check_gives(seed):
    rng = random.Random(seed)
    rows = [_row(rng) for _ in range(3000)]
    sizes = [rng.choice([(640, 480), (640, 480), (None, None), (0, 0), (320, None)]) for _ in rows]
    expected = [_comparable(r) for r in _one_by_one(rows, sizes)]
    got = [_comparable(r) for r in rows_data(rows, sizes, CTX)]
    mismatches = [
        (row, size, want, have)
        for row, size, want, have in zip(rows, sizes, expected, got, strict=True)
        if want != have
    ]
    assert mismatches == []
    # Both good and refused rows of both kinds were in the sample.
    assert sum(e.startswith("error") for e in expected) > 300
    assert sum(not e.startswith("error") for e in expected) > 1000


@pytest.mark.parametrize("seed", range(3))
def test_small_batches_mostly_good_give_what_the_one_row_check_gives(seed):
    """Batches of a few rows, so that whole columns are often good (the batch check's
    shortcuts: every score a float, every label known, no track, ...) and often not."""
    rng = random.Random(seed)
    for _ in range(1500):
        rows = [_row(rng) for _ in range(rng.choice([1, 2, 3]))]
        sizes = [rng.choice([(640, 480), (640, 480), (None, None), (320, None)]) for _ in rows]
        expected = [_comparable(r) for r in _one_by_one(rows, sizes)]
        assert [_comparable(r) for r in rows_data(rows, sizes, CTX)] == expected, rows


def test_common_rows_are_checked_by_the_vectorized_part(monkeypatch):
    calls = []
    real = rows_module.row_data

    def counted(row, size, ctx):
        calls.append(row)
        return real(row, size, ctx)

    monkeypatch.setattr(rows_module, "row_data", counted)
    rows = [{"asset": i, "probs": [0.2, 0.3, 0.5]} for i in range(100)]
    rows += [
        {"asset": i, "boxes": [{"x": 1, "y": 2.5, "w": 10, "h": 20, "class_probs": [0, 0.5, 0.5]}]}
        for i in range(100)
    ]
    rows += [
        {"asset": i, "boxes": [{"x": 1.0, "y": 2.5, "w": 10.0, "h": 20.0, "label": "car"}]}
        for i in range(100)
    ]
    rows.append({"asset": 1, "probs": [0.2, math.nan, 0.5]})  # refused: left to row_data
    rows.append({"asset": 1, "score": 0.5})  # another shape: row_data
    out = rows_data(rows, [(640, 480)] * len(rows), CTX)
    # Ints in class_probs are row_data's (it turns them into floats), the rest is batch work.
    assert len(calls) == 100 + 2
    assert out[0] == {"probs": [0.2, 0.3, 0.5]}
    assert out[200]["boxes"][0] == {
        "x": 1.0,
        "y": 2.5,
        "w": 10.0,
        "h": 20.0,
        "score": 1.0,
        "class_probs": [0.0, 0.0, 1.0],
        "label": "car",
    }
    assert isinstance(out[300], RowError) and str(out[300]) == "probs is NaN or infinite"


LINES = [
    b'{"asset": 1, "probs": [0.5, 0.5]}',
    b"",
    b"   ",
    b'{"asset": 2, "probs": [NaN, 0.5]}',
    b'{"asset": 3, "probs": [Infinity, 0.5]}',
    b'{"asset": 4, "probs": [1e400, 0.5]}',
    b'{"asset": 18446744073709551616, "probs": [0.5, 0.5]}',
    b'{"asset": 5, "score": 0.12345678901234567890123}',
    b"\xef\xbb\xbf{}",
    b'{"asset": 6}\r',
    b"[1, 2]",
    b'"text"',
    b"{bad",
    b'{"a": 1}, {"b": 2}',
    b'{"a": "\xff"}',
    b'{"a": "\\ud800"}',
    b'{"a": 1, "a": 2}',
    b'{"asset": 7, "file_name": "caf\xc3\xa9.jpg"}',
    b'  {"asset": 8}  ',
]


@pytest.mark.parametrize("block_size", [1, 7, 64, 1 << 20])
def test_a_body_read_in_blocks_gives_each_line_what_reading_it_alone_gives(block_size):
    from activelearn.predictions.lines import JsonLinesBody, row_batches

    body = b"\n".join(LINES)
    blocks = JsonLinesBody(body[i : i + block_size] for i in range(0, len(body), block_size))
    alone = [entry for batch in row_batches(LINES, 1000) for entry in batch]
    read = [entry for batch in row_batches(blocks, 5) for entry in batch]
    assert read == alone
    assert [number for number, _, _ in read] == [1, *range(4, 20)]
    assert read[4][1] == {"asset": 18446744073709551616, "probs": [0.5, 0.5]}
