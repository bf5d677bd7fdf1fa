"""Prediction push benchmark: `python benchmarks/predictions.py`.

Setup: a fresh PostgreSQL database next to DATABASE_URL's (created and dropped), a project
with two classes and BENCH_ROWS (default 100,000) image assets with one task each, inserted
with bulk_create. Then BENCH_ROWS JSON Lines rows (by external key; 70% class probabilities,
30% two boxes with class probabilities) go through `predictions_push`, the service the
endpoint calls, as the endpoint hands it a body (1 MB blocks): parsed and checked a batch at
a time, looked up in batches and stored with COPY (straight into the table for a version
that had no predictions, through a staging table and INSERT ... ON CONFLICT for a re-push).
Timed: a first push (inserts) and a re-push of the same rows (updates, the idempotent path),
then through POST /api/projects/<id>/predictions/ (application/x-ndjson, read a block at a
time): with Django's test client, and against the live web server (config.webserver: one
worker of one thread, token auth; after a first push of 1,000 rows that warms the worker up)
once with Content-Length and once chunked (skip with BENCH_LIVE=0).

The raw limit, in the same run: the same rows, already checked and in the push's COPY text,
copied in batches of the push's size into an empty table shaped exactly like the predictions
table: its key, index and reference trigger (copy_rows_per_s, the ratio's); the same without
the trigger (copy_no_check_rows_per_s); the table as it was before migration 0016, with an id,
four indexes and two foreign keys (copy_old_rows_per_s); and a temporary one with the key only
(copy_temp_rows_per_s, the limit printed before 2026-12-01's push work).

Goal (issue 16): at least 100,000 rows/s stored through the real endpoint. Last line:
`rows_per_s=<x> copy_rows_per_s=<y> ratio=<y/x> service_rows_per_s=<z> repush_rows_per_s=<r>
copy_no_check_rows_per_s=<n> copy_old_rows_per_s=<o> copy_temp_rows_per_s=<t>`: rows_per_s is
the live web server's endpoint (Content-Length; the Django test client's when BENCH_LIVE=0).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = int(os.environ.get("BENCH_ROWS", 100_000))
LIVE = os.environ.get("BENCH_LIVE", os.environ.get("BENCH_GUNICORN", "1")) != "0"


def _server_url() -> str:
    """DATABASE_URL, or the embedded PostgreSQL's (started for this run) when it is unset."""
    from annotate.embedded.postgres import ensure_database_url

    return ensure_database_url()


def _fresh_database(base_url: str):
    parts = urlsplit(base_url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("benchmarks/predictions.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    import psycopg

    name = f"bench_predictions_{uuid.uuid4().hex[:10]}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _make_project(count: int):
    from annotate.models import AnnotationTask, Asset, LabelClass, Project

    project = Project.objects.create(name="prediction push benchmark")
    LabelClass.objects.create(project=project, name="person", color="#e6194b")
    LabelClass.objects.create(project=project, name="bicycle", color="#3cb44b", order=1)
    for start in range(0, count, 10_000):
        assets = Asset.objects.bulk_create(
            [
                Asset(
                    project=project,
                    kind=Asset.Kind.IMAGE,
                    file=f"projects/{project.pk}/assets/{index}.jpg",
                    original_name=f"{index}.jpg",
                    external_key=f"cam/{index:07}",
                    sha256=f"{index:064x}",
                    content_type="image/jpeg",
                    width=640,
                    height=480,
                    state=Asset.State.READY,
                )
                for index in range(start, min(start + 10_000, count))
            ]
        )
        AnnotationTask.objects.bulk_create(
            [
                AnnotationTask(project=project, asset=a, kind=AnnotationTask.Kind.IMAGE)
                for a in assets
            ]
        )
    return project


def _lines(count: int, version: str) -> list[bytes]:
    rng = random.Random(0)
    lines = []
    for index in range(count):
        row: dict = {"external_key": f"cam/{index:07}", "model_version": version}
        if index % 10 < 7:
            p = round(rng.random(), 4)
            row["probs"] = [p, round(1 - p, 4)]
        else:
            row["boxes"] = [
                {
                    "x": rng.randint(0, 300),
                    "y": rng.randint(0, 200),
                    "w": rng.randint(10, 300),
                    "h": rng.randint(10, 250),
                    "score": round(rng.random(), 3),
                    "class_probs": [0.6, 0.4],
                }
                for _ in range(2)
            ]
        lines.append(json.dumps(row).encode() + b"\n")
    return lines


def _copy_limit(project) -> dict[str, float]:
    """Rows/s of a bare COPY of the same rows (checked, in the push's COPY text) into an empty
    table like the predictions table: "table", exactly its shape (LIKE ... INCLUDING ALL: its
    key and index) with its reference trigger (migration 0016: the tasks and versions the rows
    name locked and checked once per statement), what storing them costs PostgreSQL at the
    least, the ratio's; "no_check", the same without the trigger; "old", the table as it was
    before 0016 (an id key and three more indexes, two foreign keys checked at commit);
    "temp", a temporary table with the key only (not WAL-logged, nothing checked: the limit
    this benchmark printed before 2026-12-01's push work)."""
    from django.db import connection, transaction

    from activelearn.models import Prediction
    from activelearn.predictions.push import BATCH_SIZE, _copy_payload

    table = Prediction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT task_id, model_version_id, data::text FROM {table} LIMIT %s",  # noqa: S608
            [ROWS],
        )
        rows = {(task, version): json.loads(data) for task, version, data in cursor.fetchall()}
    lines = _copy_payload(rows).splitlines(keepends=True)
    parts = [b"".join(lines[i : i + BATCH_SIZE]) for i in range(0, len(lines), BATCH_SIZE)]
    shapes = {
        "table": [
            f"CREATE TABLE copy_limit (LIKE {table} INCLUDING ALL)",
            "CREATE TRIGGER copy_limit_refs AFTER INSERT ON copy_limit "
            "REFERENCING NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION activelearn_prediction_refs()",
        ],
        "no_check": [f"CREATE TABLE copy_limit (LIKE {table} INCLUDING ALL)"],
        "old": [
            "CREATE TABLE copy_limit (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "data jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT statement_timestamp(), "
            "model_version_id bigint NOT NULL REFERENCES activelearn_modelversion (id) "
            "DEFERRABLE INITIALLY DEFERRED, "
            "task_id bigint NOT NULL REFERENCES annotate_annotationtask (id) "
            "DEFERRABLE INITIALLY DEFERRED, UNIQUE (task_id, model_version_id))",
            "CREATE INDEX ON copy_limit (model_version_id)",
            "CREATE INDEX ON copy_limit (task_id)",
        ],
        "temp": [f"CREATE TEMP TABLE copy_limit (LIKE {table} INCLUDING ALL)"],
    }
    rates = {}
    for kind, statements in shapes.items():
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        started = time.perf_counter()
        for part in parts:  # a transaction per batch of the push's size, as the push writes
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    "COPY copy_limit (task_id, model_version_id, data) FROM STDIN"
                ) as copy,
            ):
                copy.write(part)
        rates[kind] = len(rows) / (time.perf_counter() - started)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE copy_limit")
    return rates


def _live_server(project, user, database_url: str) -> dict[str, float]:
    import http.client
    import socket
    import subprocess

    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user).key
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    from config.webserver import web_server_argv

    server = subprocess.Popen(  # noqa: S603
        web_server_argv(host="127.0.0.1", port=port, workers=1, threads=1),
        env=env,
        cwd=str(ROOT),
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/x-ndjson"}
        url = f"/api/projects/{project.pk}/predictions/"
        # One small push first: the worker's first request imports and connects (the figure
        # is the steady state, not the server's start).
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request(
            "POST", url, body=b"".join(_lines(1000, "bench-live-warm-up")), headers=headers
        )
        conn.getresponse().read()
        rates = {}
        for mode in ("Content-Length", "chunked"):
            lines = _lines(ROWS, f"bench-live-{mode}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            started = time.perf_counter()
            if mode == "chunked":
                conn.request("POST", url, body=iter(lines), headers=headers, encode_chunked=True)
            else:
                conn.request("POST", url, body=b"".join(lines), headers=headers)
            response = conn.getresponse()
            body = response.read()
            took = time.perf_counter() - started
            assert response.status == 200, body[:500]
            assert json.loads(body)["stored"] == ROWS
            rate = f"{ROWS / took:,.0f} rows/s"
            print(f"live web server, {mode}: {ROWS} rows in {took:.2f} s = {rate}")
            rates[mode] = ROWS / took
        return rates
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    base_url = _server_url()
    database_url, drop = _fresh_database(base_url)
    try:
        _setup_django(database_url)
        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client

        from activelearn.models import Prediction
        from activelearn.predictions.push import JsonLinesBody, predictions_push
        from annotate.models import Membership

        started = time.perf_counter()
        project = _make_project(ROWS)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after a bulk ingest
        print(f"setup: {ROWS} assets and tasks in {time.perf_counter() - started:.1f} s")
        lines = _lines(ROWS, "bench-v1")
        body = b"".join(lines)

        def blocks() -> JsonLinesBody:
            return JsonLinesBody(body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20))

        started = time.perf_counter()
        first = predictions_push(project=project, rows=blocks())
        first_s = time.perf_counter() - started
        count = Prediction.objects.filter(model_version__name="bench-v1").count()
        assert first.error_count == 0 and count == ROWS, (first.error_count, count)
        print(f"first push: {ROWS} rows in {first_s:.2f} s = {ROWS / first_s:,.0f} rows/s")

        started = time.perf_counter()
        again = predictions_push(project=project, rows=blocks())
        again_s = time.perf_counter() - started
        count = Prediction.objects.filter(model_version__name="bench-v1").count()
        assert again.error_count == 0 and count == ROWS
        print(f"re-push (upsert): {ROWS} rows in {again_s:.2f} s = {ROWS / again_s:,.0f} rows/s")

        user = User.objects.create_user("bench-eve")
        Membership.objects.create(project=project, user=user, role=Membership.Role.ML_ENGINEER)
        client = Client()
        client.force_login(user)
        body = b"".join(_lines(ROWS, "bench-http"))
        started = time.perf_counter()
        response = client.post(
            f"/api/projects/{project.pk}/predictions/",
            data=body,
            content_type="application/x-ndjson",
            secure=True,  # settings redirect plain HTTP
        )
        http_s = time.perf_counter() - started
        assert response.status_code == 200, response.content[:500]
        assert response.json()["stored"] == ROWS
        print(
            f"HTTP endpoint (test client, {len(body) / 1e6:.1f} MB JSON Lines): "
            f"{ROWS} rows in {http_s:.2f} s = {ROWS / http_s:,.0f} rows/s"
        )
        endpoint = ROWS / http_s
        if LIVE:
            endpoint = _live_server(project, user, database_url)["Content-Length"]
        limits = _copy_limit(project)
        copy_rate = limits["table"]
        print(
            f"raw limit: COPY of the same {ROWS} rows into an empty table like the predictions "
            f"table (its key, index and reference trigger): {copy_rate:,.0f}/s; without the "
            f"trigger: {limits['no_check']:,.0f}/s; the table before migration 0016 (id, four "
            f"indexes, foreign keys): {limits['old']:,.0f}/s; a temporary table (key only, no "
            f"WAL): {limits['temp']:,.0f}/s"
        )
        os.system("uptime")  # noqa: S605, S607
        print(
            f"rows_per_s={endpoint:.0f} copy_rows_per_s={copy_rate:.0f} "
            f"ratio={copy_rate / endpoint:.2f} service_rows_per_s={ROWS / first_s:.0f} "
            f"repush_rows_per_s={ROWS / again_s:.0f} "
            f"copy_no_check_rows_per_s={limits['no_check']:.0f} "
            f"copy_old_rows_per_s={limits['old']:.0f} copy_temp_rows_per_s={limits['temp']:.0f}"
        )
    finally:
        from django.db import connections

        connections.close_all()
        drop()


if __name__ == "__main__":
    main()
