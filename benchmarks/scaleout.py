"""Scale-out: two web servers and three Celery workers, each a separate process, against one
PostgreSQL and one Redis. A project is ingested through both web servers, scored by the
scoring worker, and labeled by simulated annotators through both web servers; afterwards
nothing may be lost or doubled.

    .venv/bin/python benchmarks/scaleout.py [--assets 2000] [--annotators 8] [--duration 60]
        [--from-bucket 0.9]

The processes (the same set as the Procfile): the web server (config.webserver: granian
serving `config.wsgi`) twice, on two ports;
a worker on the ingest queue, one on the scoring queue, and one on everything else (the
default queue, training, exchange, webhooks) with beat. PostgreSQL from DATABASE_URL (a fresh
database is made beside it and dropped afterwards), Redis from REDIS_URL, on queues of this
run alone (CELERY_QUEUE, CELERY_QUEUE_PREFIX).

1. Ingest: --assets generated 640x480 plain JPEGs (a few KB each). A share --from-bucket of
   them (0: none) already lives in object storage: a local S3-compatible server (s3rver,
   benchmarks/s3_local.py) filled through its store with 1,000 distinct pictures over and
   over under distinct keys, registered through the first web server's bucket-source API
   (the ingest worker lists and registers, then decodes each image lazily from the bucket).
   The rest are uploaded 100 per request through the upload API, alternately to each web
   server from two threads, at the same time. Ingest ends when every asset is decoded;
   ingest_per_s is all assets over that time.
2. Scoring: a scoring run (cold start: the coverage order from the colour features ingest
   made) started once everything is in, run by the scoring worker; score_per_s is its tasks
   over its wall time (queued to done).
3. Labeling: --annotators threads (benchmarks/load_people.py: next task, payload, latest
   version, two drafts, submit), half on each web server, for --duration seconds, while the
   manager starts an export through the second server (the exchange queue's worker).
4. Checks (benchmarks/load_checks.py): lost (a save answered 200 whose version is not in the
   database), doubles (a task two people held at once), and every uploaded image an asset
   with one task.

Last line: lost=0 doubles=0 scored=... rps=... score_per_s=... ingest_per_s=... assets=...
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bucket import fresh_database  # noqa: E402  (beside this file)
from load_checks import check  # noqa: E402
from load_people import IMAGE_SIZE, LABELS, Client, Records, annotator  # noqa: E402
from s3_local import ACCESS_KEY, SECRET_KEY, s3rver_fill_bodies, start_s3rver  # noqa: E402

BATCH = 100


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Processes:
    """The five processes, each in its own process group, logging to files."""

    def __init__(
        self,
        folder: Path,
        env: dict[str, str],
        web_workers: int,
        threads: int,
        ingest_concurrency: int = 1,
    ):
        from config.celery import all_queues, work_queue
        from config.webserver import web_server_argv

        self.folder, self.env = folder, env
        self.ports = [free_port(), free_port()]
        self.children: dict[str, subprocess.Popen] = {}
        self.worker_names: list[str] = []
        for number, port in enumerate(self.ports, 1):
            self._start(
                f"web{number}",
                web_server_argv(host="127.0.0.1", port=port, workers=web_workers, threads=threads),
            )
        rest = [q for q in all_queues() if q not in (work_queue("ingest"), work_queue("scoring"))]
        for name, queues, beat, concurrency in (
            ("ingest", [work_queue("ingest")], False, ingest_concurrency),
            ("scoring", [work_queue("scoring")], False, 1),
            ("rest", rest, True, 1),
        ):
            worker = f"{name}-{uuid.uuid4().hex[:6]}"
            self.worker_names.append(worker)
            argv = [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(queues),
                "-n", f"{worker}@%h", "--concurrency", str(concurrency), "--loglevel", "INFO",
                "--without-gossip", "--without-mingle",
            ]  # fmt: skip
            if beat:
                argv += ["--beat", "--schedule", str(folder / "celerybeat-schedule")]
            self._start(f"worker-{name}", argv)

    def _start(self, name: str, argv: list[str]) -> None:
        self.children[name] = subprocess.Popen(
            argv,
            env=self.env,
            cwd=ROOT,
            stdout=(self.folder / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, seconds: float = 120) -> None:
        from config.celery import app

        host = os.uname().nodename
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            dead = [name for name, child in self.children.items() if child.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited; see the logs in {self.folder}")
            webs = all(_answers(port) for port in self.ports)
            answered = app.control.ping(
                destination=[f"{name}@{host}" for name in self.worker_names], timeout=1
            )
            if webs and len(answered) == len(self.worker_names):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the processes did not start; see the logs in {self.folder}")

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/accounts/login/")
        return conn.getresponse().status == 200
    except OSError:
        return False


def make_project(annotators: int):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from annotate.models import Budget, LabelClass, Membership, Project

    project = Project.objects.create(name="scale-out benchmark", keypoints_enabled=False)
    for order, name in enumerate(LABELS):
        LabelClass.objects.create(
            project=project, name=name, color=["#e6194b", "#3cb44b"][order], hotkey=str(order + 1)
        )
    Budget.objects.create(
        project=project, money_limit=Decimal("1000000"), cost_per_image=Decimal("0.05")
    )

    def tokens(prefix: str, count: int, role: str) -> list[str]:
        made = []
        for i in range(count):
            user = User.objects.create(username=f"{prefix}{i:03d}")
            Membership.objects.create(project=project, user=user, role=role)
            made.append(Token.objects.create(user=user, key=secrets.token_hex(20)).key)
        return made

    return (
        project,
        tokens("annotator", annotators, Membership.Role.ANNOTATOR),
        tokens("manager", 1, Membership.Role.MANAGER)[0],
    )


def _jpeg(i: int) -> bytes:
    from PIL import Image

    rng = random.Random(i)
    # The annotators' boxes are drawn on IMAGE_SIZE pictures (load_people).
    image = Image.new("RGB", IMAGE_SIZE, (i % 251, (i // 251) % 251, rng.randrange(256)))
    image.putpixel((i % IMAGE_SIZE[0], (i // IMAGE_SIZE[0]) % IMAGE_SIZE[1]), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def ingest(
    ports: list[int], token: str, project_id: int, count: int, first: int = 0
) -> tuple[int, float]:
    """Upload `count` images (numbered from `first`) through both servers; returns (created,
    seconds)."""
    end = first + count
    batches = [range(start, min(start + BATCH, end)) for start in range(first, end, BATCH)]
    created = [0]
    lock = threading.Lock()

    def upload(port: int, mine: list[range]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        for batch in mine:
            body, boundary = _multipart([(f"img-{i:06d}.jpg", _jpeg(i)) for i in batch])
            for _attempt in range(5):
                try:
                    conn.request(
                        "POST",
                        f"/api/projects/{project_id}/assets/upload/",
                        body=body,
                        headers={
                            "Authorization": f"Token {token}",
                            "Content-Type": f"multipart/form-data; boundary={boundary}",
                        },
                    )
                    answer = conn.getresponse()
                    report = json.loads(answer.read())
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                    time.sleep(1)
                    continue
                if answer.status < 500:
                    # A batch sent again after a lost answer comes back as duplicates.
                    done = sum(r["status"] in ("created", "duplicate") for r in report["results"])
                    with lock:
                        created[0] += done
                    break
                time.sleep(1)

    start = time.perf_counter()
    threads = [
        threading.Thread(target=upload, args=(port, batches[number::2]))
        for number, port in enumerate(ports)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created[0], time.perf_counter() - start


BUCKET_PREFIX = "frames/"


def register_bucket(
    port: int, token: str, project_id: int, endpoint: str, bucket: str
) -> tuple[int, float]:
    """Point the project at the bucket through the API, wait for the registration (its
    progress printed as the page shows it); returns (assets created, seconds listed)."""
    from annotate.models import BucketRegistration

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({
        "endpoint_url": endpoint, "bucket": bucket, "prefix": BUCKET_PREFIX,
        "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY,
    })  # fmt: skip
    conn.request(
        "POST", f"/api/projects/{project_id}/bucket-sources/", body=body,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    answer = conn.getresponse()
    report = json.loads(answer.read())
    if answer.status != 202:  # accepted: the registration is queued
        raise RuntimeError(f"bucket source: {answer.status} {report}")
    start = time.perf_counter()
    shown = 0.0
    while True:
        registration = BucketRegistration.objects.filter(source__project_id=project_id).first()
        if registration is not None and registration.state in ("done", "failed"):
            break
        if registration is not None and time.perf_counter() - shown > 10:
            shown = time.perf_counter()
            print(
                f"  registration: {registration.objects_listed} objects listed in "
                f"{registration.pages_listed} pages, {registration.assets_created} assets",
                flush=True,
            )
        time.sleep(0.5)
    if registration.state != "done":
        raise RuntimeError(f"registration {registration.state}: {registration.error}")
    return registration.assets_created, time.perf_counter() - start


def wait_decoded(project_id: int, expected: int, seconds: float = 3600) -> int:
    """Wait until `expected` assets are ready or failed; returns the failed count."""
    from annotate.models import Asset

    deadline = time.monotonic() + seconds
    shown = 0.0
    while time.monotonic() < deadline:
        states = Counter(
            Asset.objects.filter(project_id=project_id).values_list("state", flat=True)
        )
        settled = states["ready"] + states["failed"]
        if settled >= expected:
            return states["failed"]
        if time.monotonic() - shown > 15:
            shown = time.monotonic()
            print(f"  decoded {settled} of {expected}", flush=True)
        time.sleep(1)
    raise RuntimeError("the assets were not decoded in time")


def score(project) -> tuple[int, float]:
    from activelearn.models import ScoringRun
    from activelearn.scoring.runs import scoring_run_start

    start = time.perf_counter()
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    while True:
        run.refresh_from_db()
        if run.state in ("done", "failed", "superseded", "skipped"):
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - start
    if run.state != "done":
        print(f"scoring run {run.state}: {run.error}", file=sys.stderr)
    return run.tasks_scored, elapsed


def label(ports, tokens, manager, project_id, duration, think) -> Records:
    records = Records(started_at=time.monotonic())
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=annotator,
            args=(Client(ports[i % 2], token, records, f"a{i}"), project_id, stop, think, i),
            daemon=True,
        )
        for i, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    exporter = Client(ports[1], manager, records, "manager")
    status, _body = exporter.call(
        "POST", f"/api/projects/{project_id}/exports/", {"format": "coco"}, "export", stop
    )
    if status != 202:
        print(f"export start answered {status}", file=sys.stderr)
    stop.wait(duration)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60, help="seconds of labeling")
    parser.add_argument("--think", type=float, default=0.3, help="scale of the pauses")
    parser.add_argument("--web-workers", type=int, default=1, help="per web server")
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument(
        "--from-bucket", type=float, default=0.0, help="share of the assets in object storage"
    )
    parser.add_argument("--ingest-concurrency", type=int, default=1, help="ingest worker's")
    args = parser.parse_args()
    in_bucket = round(args.assets * args.from_bucket)

    folder = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    database_url, drop = fresh_database()
    run = uuid.uuid4().hex[:8]
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        STATIC_MANIFEST="0",
        BUCKET_ALLOW_LOOPBACK="1",
        SECURE_SSL_REDIRECT="0",
        CELERY_QUEUE=f"scaleout-{run}",
        CELERY_QUEUE_PREFIX=f"scaleout-{run}.",
        MEDIA_ROOT=str(folder / "media"),
        VAR_DIR=str(folder / "var"),
        PYTHONUNBUFFERED="1",
    )
    os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))
    processes = s3rver = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        project, tokens, manager = make_project(args.annotators)
        processes = Processes(
            folder, dict(os.environ), args.web_workers, args.web_threads, args.ingest_concurrency
        )
        processes.wait_ready()
        print(f"up: web on {processes.ports}, 3 workers; logs in {folder}", flush=True)

        uploads = args.assets - in_bucket
        if in_bucket:
            bucket = f"scaleout-{run}"
            start = time.perf_counter()
            s3rver_fill_bodies(
                folder / "s3rver", bucket, BUCKET_PREFIX, in_bucket, [_jpeg(i) for i in range(1000)]
            )
            s3rver, endpoint = start_s3rver(folder / "s3rver", folder / "s3rver.log")
            print(f"bucket: {in_bucket} objects filled in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        uploader = threading.Thread(
            target=lambda: uploaded.append(
                ingest(processes.ports, manager, project.pk, uploads, first=in_bucket)
            )
        )
        uploaded: list[tuple[int, float]] = []
        uploader.start()
        registered = 0
        if in_bucket:
            registered, list_s = register_bucket(
                processes.ports[0], manager, project.pk, endpoint, bucket
            )
            print(f"registered {registered} from the bucket in {list_s:.1f} s", flush=True)
        uploader.join()
        created, upload_s = uploaded[0] if uploaded else (0, 0.0)
        print(f"uploaded {created} in {upload_s:.1f} s", flush=True)
        decode_failed = wait_decoded(project.pk, registered + created)
        ingest_s = time.perf_counter() - start
        created += registered
        print(f"ingested {created} in {ingest_s:.1f} s ({decode_failed} failed)", flush=True)
        scored, score_s = score(project)
        print(f"scored {scored} in {score_s:.1f} s", flush=True)
        records = label(processes.ports, tokens, manager, project.pk, args.duration, args.think)
        result = check(project.pk, records)
        outcomes = Counter((call.what, call.outcome) for call in records.calls)
        print("requests: " + ", ".join(f"{w} {o}: {n}" for (w, o), n in sorted(outcomes.items())))

        from django.db.models import Count

        from annotate.models import AnnotationTask, Asset

        assets = Asset.objects.filter(project=project).count()
        tasks_per_asset = (
            AnnotationTask.objects.filter(project=project)
            .values("asset_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        ingest_lost = args.assets - assets
        print(
            f"saves={result['saves']} submitted={result['submitted']} "
            f"ingest_lost={ingest_lost} assets_with_two_tasks={tasks_per_asset}"
        )
        print(
            f"lost={result['lost'] + ingest_lost} doubles={result['doubles'] + tasks_per_asset} "
            f"scored={scored} rps={len(records.calls) / args.duration:.1f} "
            f"score_per_s={scored / score_s:.0f} ingest_per_s={created / ingest_s:.0f} "
            f"assets={assets}"
        )
    finally:
        if processes is not None:
            processes.stop()
        if s3rver is not None:
            s3rver.terminate()
            s3rver.wait(timeout=20)
        from config.celery import all_queues, app

        try:
            with app.connection_for_write() as connection:
                connection.default_channel.client.delete(*all_queues())
        except Exception:
            pass
        drop()


if __name__ == "__main__":
    main()
