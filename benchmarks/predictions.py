"""Prediction push benchmark: `python benchmarks/predictions.py`.

Setup: a fresh PostgreSQL database next to DATABASE_URL's (created and dropped), a project
with two classes and BENCH_ROWS (default 100,000) image assets with one task each, inserted
with bulk_create. Then BENCH_ROWS JSON Lines rows (by external key; 70% class probabilities,
30% two boxes with class probabilities) go through `predictions_push`, the service the
endpoint calls: parsed, checked row by row, looked up in batches and upserted with one
INSERT ... ON CONFLICT per batch. Timed: a first push (inserts) and a re-push of the same
rows (updates, the idempotent path), then through POST /api/projects/<id>/predictions/
(application/x-ndjson, read a block at a time): with Django's test client, and against a live
gunicorn (one worker, token auth) once with Content-Length and once chunked (skip with
BENCH_GUNICORN=0).

The raw limit, in the same run: the same rows, already checked and in COPY's text format,
copied into an empty table shaped like the predictions table (its unique index included).

Goal (issue 16): at least 100,000 rows/s stored through the real endpoint. Last line:
`rows_per_s=<x> copy_rows_per_s=<y> ratio=<y/x> service_rows_per_s=<z>`: rows_per_s is the
live gunicorn endpoint (Content-Length; the Django test client's when BENCH_GUNICORN=0).
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
GUNICORN = os.environ.get("BENCH_GUNICORN", "1") != "0"


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


def _copy_limit(project) -> float:
    """Rows/s of a bare COPY of the same rows (checked, in COPY text) into an empty table
    like the predictions table, unique index included."""
    from django.db import connection, transaction

    from activelearn.models import Prediction
    from activelearn.predictions.push import _ENCODE, _copy_text

    table = Prediction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT task_id, model_version_id, data::text FROM {table} LIMIT %s",  # noqa: S608
            [ROWS],
        )
        rows = cursor.fetchall()
    text = "".join(
        f"{task}\t{version}\t{_copy_text(_ENCODE(json.loads(data)))}\n"
        for task, version, data in rows
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE copy_limit (LIKE {table} INCLUDING ALL)")
        cursor.execute("ALTER TABLE copy_limit ALTER created_at SET DEFAULT now()")
        started = time.perf_counter()
        with cursor.cursor.copy(
            "COPY copy_limit (task_id, model_version_id, data) FROM STDIN"
        ) as copy:
            for start in range(0, len(text), 1 << 20):
                copy.write(text[start : start + (1 << 20)])
        took = time.perf_counter() - started
        cursor.execute("DROP TABLE copy_limit")
    return len(rows) / took


def _live_gunicorn(project, user, database_url: str) -> dict[str, float]:
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
    server = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}"]
        + ["-w", "1", "--timeout", "600"],
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
        rates = {}
        for mode in ("Content-Length", "chunked"):
            lines = _lines(ROWS, f"bench-live-{mode}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            url = f"/api/projects/{project.pk}/predictions/"
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
            print(f"live gunicorn, {mode}: {ROWS} rows in {took:.2f} s = {ROWS / took:,.0f} rows/s")
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
        from activelearn.predictions.push import predictions_push
        from annotate.models import Membership

        started = time.perf_counter()
        project = _make_project(ROWS)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after a bulk ingest
        print(f"setup: {ROWS} assets and tasks in {time.perf_counter() - started:.1f} s")
        lines = _lines(ROWS, "bench-v1")

        started = time.perf_counter()
        first = predictions_push(project=project, rows=iter(lines))
        first_s = time.perf_counter() - started
        count = Prediction.objects.filter(model_version__name="bench-v1").count()
        assert first.error_count == 0 and count == ROWS, (first.error_count, count)
        print(f"first push: {ROWS} rows in {first_s:.2f} s = {ROWS / first_s:,.0f} rows/s")

        started = time.perf_counter()
        again = predictions_push(project=project, rows=iter(lines))
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
        if GUNICORN:
            endpoint = _live_gunicorn(project, user, database_url)["Content-Length"]
        copy_rate = _copy_limit(project)
        print(f"raw limit: COPY of the same {ROWS} rows into an empty table: {copy_rate:,.0f}/s")
        os.system("uptime")  # noqa: S605, S607
        print(
            f"rows_per_s={endpoint:.0f} copy_rows_per_s={copy_rate:.0f} "
            f"ratio={copy_rate / endpoint:.2f} service_rows_per_s={ROWS / first_s:.0f}"
        )
    finally:
        from django.db import connections

        connections.close_all()
        drop()


if __name__ == "__main__":
    main()
