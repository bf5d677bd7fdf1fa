"""Where a prediction push's time goes per row: `python benchmarks/predictions_phases.py`.

The same setup and rows as benchmarks/predictions.py (BENCH_ROWS, default 50,000), pushed to a
new version through the push's own steps run one after another, each timed (wall clock and
this process's CPU): decode (the JSON Lines body in 1 MB blocks), keys (each row's asset key),
lookup (the batch's assets, one query per kind of key), check (rows_data), by_task (the rows
keyed by task), payload (the COPY text), copy (COPY into the predictions table and commit).
In the push itself the lookup runs a batch ahead and the copy a batch behind, on connections
of their own. Last line: `<phase>_us=<wall>/<cpu> ...` per row, then `rows_per_s` serial.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import predictions as bench  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", 50_000))
PHASES = ("decode", "keys", "lookup", "check", "by_task", "payload", "copy")


def main() -> None:
    bench.ROWS = ROWS
    database_url, drop = bench._fresh_database(bench._server_url())
    try:
        bench._setup_django(database_url)
        from django.db import connection, transaction

        from activelearn.models import Prediction
        from activelearn.predictions import push
        from activelearn.predictions.lines import JsonLinesBody, row_batches
        from activelearn.predictions.rows import RowContext, rows_data

        project = bench._make_project(ROWS)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        ctx = RowContext(classes=["person", "bicycle"], keypoints=set())
        table = Prediction._meta.db_table
        for name in ("warm-up", "timed"):
            version = push.push_version_get(
                project=project, name=name, task_type="detection", user_id=None
            )
            body = b"".join(bench._lines(ROWS, name))
            blocks = JsonLinesBody(body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20))
            wall = dict.fromkeys(PHASES, 0.0)
            cpu = dict.fromkeys(PHASES, 0.0)
            clock = [time.perf_counter(), time.process_time()]

            def tick(phase: str, wall=wall, cpu=cpu, clock=clock) -> None:
                now = [time.perf_counter(), time.process_time()]
                wall[phase] += now[0] - clock[0]
                cpu[phase] += now[1] - clock[1]
                clock[:] = now

            gc.disable()
            started = time.perf_counter()
            batches = row_batches(blocks, push.BATCH_SIZE)
            while (decoded := next(batches, None)) is not None:
                rows = [row for _, row, _ in decoded]
                tick("decode")
                keys = [push._asset_key(row) for row in rows]
                tick("keys")
                assets = push._assets_find(project, set(keys))
                tick("lookup")
                found = [assets[key] for key in keys]
                if type(assets) is push._OneTaskEach:  # the lookup's rows as they came
                    found = list(map(push._entry, found))
                datas = rows_data(rows, [asset[0] for asset in found], ctx)
                tick("check")
                out = {
                    (task, version.pk): data
                    for asset, data in zip(found, datas, strict=True)
                    for task, _, _ in asset[1]
                }
                tick("by_task")
                text = push._copy_payload(out)
                tick("payload")
                with (
                    transaction.atomic(),
                    connection.cursor() as cursor,
                    cursor.cursor.copy(
                        f"COPY {table} (task_id, model_version_id, data) FROM STDIN"  # noqa: S608
                    ) as copy,
                ):
                    copy.write(text)
                tick("copy")
            took = time.perf_counter() - started
            gc.enable()
        os.system("uptime")  # noqa: S605, S607
        print(
            " ".join(f"{p}_us={1e6 * wall[p] / ROWS:.1f}/{1e6 * cpu[p] / ROWS:.1f}" for p in PHASES)
            + f" rows_per_s={ROWS / took:.0f}"
        )
    finally:
        from django.db import connections

        connections.close_all()
        drop()


if __name__ == "__main__":
    main()
