"""Prediction push, batch by batch (activelearn.predictions.push): a batch whose rows all pass
each step is handled for the whole batch at once, any other row by row, with the same
result; gold copies and assets sharing a file name get the row as their asset does; outside
a transaction (the writer on its own connection, a batch behind) the same rows are stored
with the same errors, and a write that fails stops the push after the batches before it."""

from __future__ import annotations

import gc
import json
import sys
from datetime import timedelta

import orjson
import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from activelearn.models import ModelVersion, Prediction
from activelearn.predictions import push
from activelearn.predictions.push import predictions_push
from annotate.models import AnnotationTask, Asset
from tests.activelearn.test_predictions_push import make_assets


def _stored(version_name: str) -> dict[int, dict]:
    return dict(
        Prediction.objects.filter(model_version__name=version_name).values_list("task_id", "data")
    )


def _gold_with_copies(project, asset: Asset, count: int) -> list[int]:
    """The asset's task made gold, and `count` copies of it: their task ids, gold first."""
    gold = asset.tasks.get()
    AnnotationTask.objects.filter(pk=gold.pk).update(is_gold=True)
    copies = [
        AnnotationTask.objects.create(project=project, asset=asset, kind="image", gold_of=gold)
        for _ in range(count)
    ]
    return [gold.pk, *(copy.pk for copy in copies)]


def _box(x: float, label: str = "person") -> dict:
    return {"x": x, "y": 10, "w": 50, "h": 40, "score": 0.9, "label": label}


@pytest.mark.django_db
def test_a_gold_task_and_its_copies_get_their_assets_row(project, eve):
    plain, gold_asset, by_id = make_assets(project, 3)
    gold_tasks = _gold_with_copies(project, gold_asset, 2)
    rows = [
        {"external_key": plain.external_key, "model_version": "v1", "probs": [0.7, 0.3]},
        {"external_key": gold_asset.external_key, "model_version": "v1", "probs": [0.2, 0.8]},
        {"asset": by_id.pk, "model_version": "v1", "probs": [0.4, 0.6]},
    ]
    result = predictions_push(project=project, rows=rows, user=eve)
    assert (result.stored, result.error_count) == (5, 0)
    assert _stored("v1") == {
        plain.tasks.get().pk: {"probs": [0.7, 0.3]},
        **{task: {"probs": [0.2, 0.8]} for task in gold_tasks},
        by_id.tasks.get().pk: {"probs": [0.4, 0.6]},
    }


@pytest.mark.django_db
def test_a_file_name_shared_by_two_assets_is_checked_against_the_first(project, eve):
    first, second = make_assets(project, 2)
    Asset.objects.filter(pk=second.pk).update(original_name=first.original_name, width=100)
    inside_first_only = {"file_name": first.original_name, "boxes": [_box(300)]}
    result = predictions_push(
        project=project, rows=[inside_first_only], user=eve, model_version_name="v1"
    )
    # Both assets' tasks, with the first asset's size (640 wide) for the check.
    assert (result.stored, result.error_count) == (2, 0)
    assert set(_stored("v1")) == {first.tasks.get().pk, second.tasks.get().pk}


@pytest.mark.django_db
def test_a_batch_with_a_bad_row_stores_its_good_rows_as_a_batch_without_one(project, eve):
    assets = make_assets(project, 6)
    # Boxes alone (checked for the batch at once) and boxes with probs (row by row).
    good = [
        {"asset": a.pk, "model_version": "clean", "boxes": [_box(10 * n)], "probs": [0.5, 0.5]}
        if n % 2
        else {"asset": a.pk, "model_version": "clean", "boxes": [_box(10 * n, "bicycle")]}
        for n, a in enumerate(assets)
    ]
    assert predictions_push(project=project, rows=good, user=eve).error_count == 0
    mixed = [{**row, "model_version": "mixed"} for row in good]
    mixed.insert(3, {"asset": assets[0].pk, "model_version": "mixed", "boxes": [_box(900)]})
    mixed.insert(1, {"external_key": "nowhere", "model_version": "mixed", "probs": [1, 0]})
    result = predictions_push(project=project, rows=mixed, user=eve)
    assert [(e["row"], e["error"][:28]) for e in result.errors] == [
        (2, "no asset 'nowhere' with task"),
        (5, "box 0 lies outside the 640x4"),
    ]
    assert result.stored == 6
    assert _stored("mixed") == _stored("clean")


@pytest.mark.django_db
def test_rows_naming_several_versions_in_one_batch_are_each_stored_under_theirs(project, eve):
    assets = make_assets(project, 4)
    rows = [
        {"asset": a.pk, "model_version": f"v{n % 2}", "score": n / 10} for n, a in enumerate(assets)
    ] + [{"asset": assets[0].pk, "score": 0.9}]  # the push's default version
    result = predictions_push(project=project, rows=rows, user=eve, model_version_name="v1")
    assert (result.stored, result.error_count) == (5, 0)
    task = {a.pk: a.tasks.get().pk for a in assets}
    assert _stored("v0") == {task[assets[0].pk]: {"score": 0.0}, task[assets[2].pk]: {"score": 0.2}}
    assert _stored("v1") == {
        task[assets[0].pk]: {"score": 0.9},
        task[assets[1].pk]: {"score": 0.1},
        task[assets[3].pk]: {"score": 0.3},
    }


def _pipeline_rows(project) -> tuple[list[str], dict]:
    """JSON Lines over several batches of 4: good rows, bad rows in several batches, a gold
    task with a copy; and what the push must store for them."""
    assets = make_assets(project, 10)
    gold_tasks = _gold_with_copies(project, assets[4], 1)
    lines, expected = [], {}
    for n, asset in enumerate(assets):
        row = {"external_key": asset.external_key, "model_version": "v1", "probs": [0.25, 0.75]}
        lines.append(json.dumps(row))
        tasks = gold_tasks if asset == assets[4] else [asset.tasks.get().pk]
        expected.update(dict.fromkeys(tasks, {"probs": [0.25, 0.75]}))
        if n in (2, 6):
            lines.append(json.dumps({**row, "probs": [0.5]}))
        if n == 7:
            lines.append("{not json")
    return lines, expected


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_same_rows_and_errors_come_out_as_inside_one(project, eve):
    lines, expected = _pipeline_rows(project)
    result = predictions_push(project=project, rows=iter(lines), user=eve, batch_size=4)
    assert result.stored == len(expected)
    assert [(e["row"], e["error"][:24]) for e in result.errors] == [
        (4, "probs has 1 values; the "),
        (9, "probs has 1 values; the "),
        (11, "not JSON: Expecting prop"),
    ]
    assert _stored("v1") == expected
    # The writer's own connection changed its commits' setting, not the push's.
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db(transaction=True)
def test_a_write_that_fails_stops_the_push_after_the_batches_written_before_it(
    project, eve, monkeypatch
):
    assets = make_assets(project, 12)
    lines = [json.dumps({"asset": a.pk, "model_version": "v1", "score": 0.5}) for a in assets]
    written = []
    copy_in = push._copy_in

    def failing_second_batch(text: bytes, count: int, *, fresh: bool) -> int:
        if count and len(written) == 1:
            raise DatabaseError("the database went away")
        if count:
            written.append(count)
        return copy_in(text, count, fresh=fresh)

    monkeypatch.setattr(push, "_copy_in", failing_second_batch)
    with pytest.raises(DatabaseError, match="went away"):
        predictions_push(project=project, rows=iter(lines), user=eve, batch_size=4)
    # The first batch is committed; the failing one and those after it are not written.
    assert written == [4]
    assert set(_stored("v1")) == {a.tasks.get().pk for a in assets[:4]}
    monkeypatch.setattr(push, "_copy_in", copy_in)
    again = predictions_push(project=project, rows=iter(lines), user=eve, batch_size=4)
    assert again.stored == 12  # pushing it again is harmless and completes it
    assert len(_stored("v1")) == 12


@pytest.mark.django_db
def test_a_push_gives_back_the_collector_and_the_switch_interval_it_found(project, eve):
    (asset,) = make_assets(project, 1)
    before = sys.getswitchinterval()
    seen = []
    rows = [{"asset": asset.pk, "model_version": "v1", "score": 0.1}]
    predictions_push(project=project, rows=_watching(rows, seen), user=eve)
    assert seen == [(False, 0.0005)]  # while the push ran
    assert (gc.isenabled(), sys.getswitchinterval()) == (True, before)


def _watching(rows, seen: list):
    for row in rows:
        seen.append((gc.isenabled(), round(sys.getswitchinterval(), 6)))
        yield row


def test_the_copy_text_of_a_batch_is_each_rows_own_json():
    """One orjson call for the whole batch with markers between the rows: the same lines as
    a call per row, whatever the rows' strings hold (control characters, backslashes, the
    markers' bytes, commas), one run of lines per version."""
    tricky = {"label": "a\\b\t\n\x01\x02,\x01\x02", "points": {",\x01": [1, 2.5, 0.5]}}
    rows = {(10**12, 3): tricky, (5, 3): {"probs": [0.1, 0.9]}, (6, 4): {"score": 1e-7}}
    text = push._copy_payload(rows)
    expected = b"".join(
        b"%d\t%d\t%s\n" % (task, version, orjson.dumps(data).replace(b"\\", b"\\\\"))
        for (task, version), data in rows.items()
    )
    assert text == expected
    assert push._copy_payload({}) == b""
    # An integer past 64 bits: the standard library writes the batch.
    assert push._copy_payload({(1, 2): {"n": 2**70}}) == b'1\t2\t{"n":1180591620717411303424}\n'


@pytest.mark.django_db
def test_rows_stored_through_the_copy_text_read_back_the_same(project):
    assets = make_assets(project, 2)
    version = ModelVersion.objects.create(project=project, name="v1", kind="pushed")
    tasks = [a.tasks.get().pk for a in assets]
    data = {"label": "a\\b\t\n\x01,\x02 é", "probs": [0.25, 0.75]}
    started = timezone.now()
    assert push.predictions_write(rows={(tasks[0], version.pk): data}, fresh=True) == 1
    assert push.predictions_write(rows={(t, version.pk): {"score": 1} for t in tasks}) == 2
    stored = {p.task_id: p for p in Prediction.objects.all()}
    assert stored[tasks[0]].data == {"score": 1} and stored[tasks[1]].data == {"score": 1}
    push.predictions_write(rows={(tasks[1], version.pk): data}, fresh=True)  # upserted
    assert Prediction.objects.get(task_id=tasks[1]).data == data
    assert all(p.created_at >= started - timedelta(seconds=1) for p in stored.values())


def test_a_bodys_batches_hold_the_batch_size_whatever_the_blocks():
    """Lines a block leaves over wait for the next block: every batch but the last is full,
    numbered by line; a line with 20 digits (an integer orjson reads differently) in a
    carried line is still read by the standard library; a last line without a newline
    counts."""
    from activelearn.predictions.lines import JsonLinesBody, row_batches

    lines = [json.dumps({"n": n}).encode() for n in range(1, 11)]
    lines[4] = b'{"n": 12345678901234567890123}'
    body = b"\n".join(lines)  # no newline at the end
    for block in (3, 7, 16, 1000):
        blocks = JsonLinesBody(body[i : i + block] for i in range(0, len(body), block))
        batches = list(row_batches(blocks, 4))
        assert [len(batch) for batch in batches] == [4, 4, 2], block
        entries = [entry for batch in batches for entry in batch]
        assert [number for number, _, _ in entries] == list(range(1, 11))
        assert entries[4] == (5, {"n": 12345678901234567890123}, None)
        assert entries[9] == (10, {"n": 10}, None)
