"""Registering a bucket: how long a project takes to point at a prefix of an S3-compatible
bucket and have an asset (and a task) for every object in it, against the raw listing of the
same prefix with the same page size in the same run (the limit: the server's own speed).

    .venv/bin/python benchmarks/bucket.py [--objects 100000] [--server s3rver|moto]
    .venv/bin/python benchmarks/bucket.py --endpoint http://127.0.0.1:PORT --bucket NAME \
        --prefix p/ --access-key K --secret-key S (a server already filled)

Without --endpoint it starts the local S3-compatible server (benchmarks/s3_local.py: s3rver
by default, or moto), a separate process on loopback, filled through its own store with
--objects small JPEG-named objects, 1,000 per sub-prefix. PostgreSQL from DATABASE_URL (a
fresh database is made beside it and dropped afterwards); Redis from REDIS_URL, on queues of
this run alone (the decoding messages are counted, then deleted).

Measured in the same run, in this order:
- list_raw_s: the raw listing, one chain of pages with a stock boto3 client (what a plain
  client gets from this server);
- list_s: the product's listing alone (annotate.buckets.listing: key ranges side by side,
  BUCKET_LIST_WORKERS of them, through the product's S3 client), no writes;
- register_s: annotate.buckets.services.bucket_source_create and bucket_register, the
  service the `annotate.bucket_register` Celery task runs (listing threads, one transaction
  per page with the job's counters, the decoding messages sent after each commit).

Last line: register_100k_s=... (seconds per 100,000 objects, measured over --objects)
register_s=... list_raw_s=... list_s=... objects=... assets=... tasks=... decode_messages=...
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import s3_local  # noqa: E402

REGION = "us-east-1"


def s3(endpoint: str, access_key: str, secret_key: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(max_pool_connections=32, s3={"addressing_style": "path"}),
    )


def list_raw(client, bucket: str, prefix: str, page: int) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    for answer in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page}
    ):
        count += len(answer.get("Contents", []))
    return count, time.perf_counter() - start


def list_product(source, page: int, workers: int) -> tuple[int, float]:
    """annotate.buckets.listing alone, pages counted and dropped."""
    from annotate.bucket_objects import s3_client
    from annotate.buckets.listing import list_in_ranges

    out: queue.Queue = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()
    start = time.perf_counter()
    thread = threading.Thread(
        target=list_in_ranges,
        args=(s3_client(source),),
        kwargs={"bucket": source.bucket, "prefix": source.prefix, "page_size": page,
                "workers": workers, "out": out, "stop": stop},
        daemon=True,
    )  # fmt: skip
    thread.start()
    count = 0
    while (item := out.get()) is not None:
        if isinstance(item, Exception):
            raise item
        count += len(item)
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


def start_server(args, folder: Path) -> tuple[object, str, str, str]:
    """(process, endpoint, access key, secret key) of a filled local server."""
    if args.server == "moto":
        process, endpoint = s3_local.start_moto_filled(
            args.bucket, args.prefix, args.objects, folder / "moto.log"
        )
        return process, endpoint, "bench-access", "bench-secret"
    store = folder / "s3rver"
    start = time.perf_counter()
    s3_local.s3rver_fill(store, args.bucket, args.prefix, args.objects)
    print(f"filled {args.objects} objects in {time.perf_counter() - start:.1f} s", flush=True)
    process, endpoint = s3_local.start_s3rver(store, folder / "s3rver.log")
    return process, endpoint, s3_local.ACCESS_KEY, s3_local.SECRET_KEY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--page", type=int, default=1000, help="keys per listing request")
    parser.add_argument("--workers", type=int, default=4, help="BUCKET_LIST_WORKERS")
    parser.add_argument("--server", choices=["s3rver", "moto"], default="s3rver")
    parser.add_argument("--endpoint", help="an S3-compatible server already filled")
    parser.add_argument("--bucket", default="")
    parser.add_argument("--prefix", default="bench/")
    parser.add_argument("--access-key", default="bench-access")
    parser.add_argument("--secret-key", default="bench-secret")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-bucket-"))
    server = None
    args.bucket = args.bucket or f"bench-{uuid.uuid4().hex[:8]}"
    if args.endpoint is None:
        server, endpoint, access_key, secret_key = start_server(args, folder)
    else:
        endpoint, access_key, secret_key = args.endpoint, args.access_key, args.secret_key
    database_url, drop = fresh_database()
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        BUCKET_ALLOW_LOOPBACK="1",
        BUCKET_LIST_PAGE=str(args.page),
        BUCKET_LIST_WORKERS=str(args.workers),
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
        from annotate.models import AnnotationTask, Asset, BucketSource, Project
        from config.celery import app, work_queue

        client = s3(endpoint, access_key, secret_key)
        listed, raw_s = list_raw(client, args.bucket, args.prefix, args.page)
        print(f"raw listing: {listed} objects in {raw_s:.1f} s", flush=True)
        probe = BucketSource(
            endpoint_url=endpoint, bucket=args.bucket, prefix=args.prefix,
            access_key_id=access_key, secret_access_key=secret_key,
        )  # fmt: skip
        listed_product, list_s = list_product(probe, args.page, args.workers)
        print(f"product listing: {listed_product} objects in {list_s:.1f} s", flush=True)
        project = Project.objects.create(name="bucket benchmark")
        start = time.perf_counter()
        _source, job = bucket_source_create(
            project=project, user=None, endpoint_url=endpoint, bucket=args.bucket,
            prefix=args.prefix, access_key_id=access_key, secret_access_key=secret_key,
        )  # fmt: skip
        done = bucket_register(job_id=job.pk)
        register_s = time.perf_counter() - start
        assets = Asset.objects.filter(project=project).count()
        tasks = AnnotationTask.objects.filter(project=project).count()
        with app.connection_for_write() as connection:
            redis = connection.default_channel.client
            decode_messages = redis.llen(work_queue("ingest"))
            redis.delete(work_queue("ingest"))
        if done.state != "done":
            print(f"registration {done.state}: {done.error}", file=sys.stderr)
        print(
            f"register_100k_s={register_s * 100_000 / max(listed, 1):.1f} "
            f"register_s={register_s:.1f} list_raw_s={raw_s:.1f} list_s={list_s:.1f} "
            f"objects={listed} listed_by_product={listed_product} assets={assets} "
            f"tasks={tasks} decode_messages={decode_messages} pages={done.pages_listed} "
            f"page={args.page} workers={args.workers} server={args.server}"
        )
    finally:
        drop()
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
