"""Registering a bucket: how long a project takes to point at a prefix of an S3-compatible
bucket and have an asset (and a task) for every object in it, against the raw listing of the
same prefix with the same page size in the same run (the limit: the server's own speed).

    .venv/bin/python benchmarks/bucket.py [--objects 2000] [--page 1000]
    .venv/bin/python benchmarks/bucket.py --endpoint http://127.0.0.1:PORT --bucket NAME \
        --prefix p/ (a server already filled, e.g. with --fill-only: filling 100,000 objects
        into moto takes some 10 to 20 minutes)

Without --endpoint it starts moto's server (a separate process on loopback), fills a bucket
with --objects small JPEG-named objects (16 threads), then measures. PostgreSQL from
DATABASE_URL (a fresh database is made beside it and dropped afterwards); Redis from
REDIS_URL, on queues of this run alone (the decoding messages are counted, then deleted).

The real path: annotate.buckets.services.bucket_source_create and bucket_register, the
service the `annotate.bucket_register` Celery task runs (listing thread, one transaction per
page with the job's counters, the decoding messages sent after each commit).

Last line: register_100k_s=... (seconds per 100,000 objects, measured over --objects)
register_s=... list_raw_s=... objects=... assets=... tasks=... decode_messages=...
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCESS_KEY, SECRET_KEY, REGION = "bench-access", "bench-secret", "us-east-1"


def s3(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(max_pool_connections=32, s3={"addressing_style": "path"}),
    )


def start_moto(folder: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=(folder / "moto.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto did not start")


def fill(endpoint: str, bucket: str, prefix: str, count: int) -> float:
    client = s3(endpoint)
    client.create_bucket(Bucket=bucket)
    body = b"\xff\xd8\xff\xe0" + b"\0" * 60  # small: the listing is measured, not the bytes

    def put(i: int) -> None:
        client.put_object(Bucket=bucket, Key=f"{prefix}{i // 1000:03d}/{i:06d}.jpg", Body=body)

    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))
    return time.perf_counter() - start


def list_raw(endpoint: str, bucket: str, prefix: str, page: int) -> tuple[int, float]:
    client = s3(endpoint)
    start = time.perf_counter()
    count = 0
    for answer in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page}
    ):
        count += len(answer.get("Contents", []))
    return count, time.perf_counter() - start


def fresh_database() -> tuple[str, callable]:
    import psycopg

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"bench_bucket_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(base)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--page", type=int, default=1000, help="keys per listing request")
    parser.add_argument("--endpoint", help="an S3-compatible server already filled")
    parser.add_argument("--bucket", default="")
    parser.add_argument("--prefix", default="bench/")
    parser.add_argument("--fill-only", action="store_true")
    args = parser.parse_args()

    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="bench-bucket-"))
    moto = None
    endpoint, bucket = args.endpoint, args.bucket or f"bench-{uuid.uuid4().hex[:8]}"
    if endpoint is None:
        moto, endpoint = start_moto(folder)
        seconds = fill(endpoint, bucket, args.prefix, args.objects)
        print(f"filled {args.objects} objects in {seconds:.1f} s", flush=True)
    if args.fill_only:
        print(f"endpoint={endpoint} bucket={bucket} prefix={args.prefix} (left running)")
        return
    database_url, drop = fresh_database()
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        BUCKET_ALLOW_LOOPBACK="1",
        BUCKET_LIST_PAGE=str(args.page),
        CELERY_QUEUE_PREFIX=f"bench-{uuid.uuid4().hex[:8]}.",
        MEDIA_ROOT=str(folder / "media"),
    )
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from annotate.buckets.services import bucket_register, bucket_source_create
        from annotate.models import AnnotationTask, Asset, Project
        from config.celery import app, work_queue

        listed, raw_s = list_raw(endpoint, bucket, args.prefix, args.page)
        print(f"raw listing: {listed} objects in {raw_s:.1f} s", flush=True)
        project = Project.objects.create(name="bucket benchmark")
        start = time.perf_counter()
        _source, job = bucket_source_create(
            project=project, user=None, endpoint_url=endpoint, bucket=bucket,
            prefix=args.prefix, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
        )  # fmt: skip
        done = bucket_register(job_id=job.pk)
        register_s = time.perf_counter() - start
        assets = Asset.objects.filter(project=project).count()
        tasks = AnnotationTask.objects.filter(project=project).count()
        with app.connection_for_write() as connection:
            client = connection.default_channel.client
            decode_messages = client.llen(work_queue("ingest"))
            client.delete(work_queue("ingest"))
        if done.state != "done":
            print(f"registration {done.state}: {done.error}", file=sys.stderr)
        print(
            f"register_100k_s={register_s * 100_000 / max(listed, 1):.1f} "
            f"register_s={register_s:.1f} list_raw_s={raw_s:.1f} objects={listed} "
            f"assets={assets} tasks={tasks} decode_messages={decode_messages} page={args.page}"
        )
    finally:
        drop()
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=20)


if __name__ == "__main__":
    main()
