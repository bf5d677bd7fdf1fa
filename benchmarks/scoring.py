"""Scoring benchmark: `python benchmarks/scoring.py`.

End-to-end scoring throughput (database reads, reading and decoding JPEGs, onnxruntime,
the project's strategy, prediction and score upserts, queue priorities, the run's pool-wide
finish) as a ratio to decode plus inference alone in a tight loop over the same images with
the same model, session, decoder and batch size (`images_infer`: read, decode and normalise
one batch ahead in threads, run). A single-threaded read/decode/run loop is printed too, for
comparison. Goal: pipeline_ratio >= 0.8.

The pipeline runs the scoring services in-process (split, every chunk, finish), exactly what
the Celery tasks call; then once through a real Celery worker (2 processes) for a figure
with the broker in the loop (skip with BENCH_WORKER=0).

Setup: a fresh PostgreSQL database next to DATABASE_URL's (created and dropped), a temporary
MEDIA_ROOT, BENCH_IMAGES (default 400) generated 640x480 textured JPEGs with ingest-style
colour histograms, and a small real CNN (three 3x3 stride-2 conv + ReLU blocks, 32-64-128
channels, global pooling, linear, softmax; 128x128 input) built with onnx.helper.
Last line: `pipeline_ratio=<x> images_per_s=<y>`: each side's fastest of BENCH_ROUNDS
(default 7) interleaved rounds; y is the end-to-end in-process rate.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

IMAGES = int(os.environ.get("BENCH_IMAGES", 400))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 7))
WORKER = os.environ.get("BENCH_WORKER", "1") != "0"
INPUT_SIZE = 128


def _server_url() -> str:
    """DATABASE_URL, or the embedded PostgreSQL's (started for this run) when it is unset."""
    from annotate.embedded.postgres import ensure_database_url

    return ensure_database_url()


def _fresh_database(base_url: str):
    parts = urlsplit(base_url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("benchmarks/scoring.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    import psycopg

    name = f"bench_scoring_{uuid.uuid4().hex[:10]}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def _setup_django(database_url: str, media_root: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["MEDIA_ROOT"] = media_root
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _make_project(count: int):
    """A project with `count` textured 640x480 JPEG tasks and an active CNN version."""
    import numpy as np
    from django.core.files.storage import default_storage
    from PIL import Image

    from annotate.ingest.images import HISTOGRAM_BINS, colour_histogram
    from annotate.models import AnnotationTask, Asset, Project
    from tests.activelearn.scoring_helpers import cnn_classifier_onnx, image_spec, version_register

    project = Project.objects.create(name="scoring benchmark")
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:480, 0:640]
    assets = []
    for index in range(count):
        base = rng.integers(0, 256, 3)
        picture = (
            base[None, None, :] * 0.6
            + 60 * np.sin((xs[..., None] + index * 7) / (11 + index % 13))
            + rng.integers(0, 50, (480, 640, 3))
        )
        image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        data = out.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        name = default_storage.save(f"projects/{project.pk}/assets/{digest}.jpg", io.BytesIO(data))
        thumb = image.copy()
        thumb.thumbnail((256, 256))
        assets.append(
            Asset(
                project=project,
                kind=Asset.Kind.IMAGE,
                file=name,
                original_name=f"{index}.jpg",
                sha256=digest,
                size_bytes=len(data),
                content_type="image/jpeg",
                width=640,
                height=480,
                state=Asset.State.READY,
                features={
                    "color_histogram": colour_histogram(thumb),
                    "bins_per_channel": HISTOGRAM_BINS,
                },
            )
        )
    Asset.objects.bulk_create(assets)
    AnnotationTask.objects.bulk_create(
        [AnnotationTask(project=project, asset=a, kind=AnnotationTask.Kind.IMAGE) for a in assets]
    )
    version = version_register(
        project,
        cnn_classifier_onnx(size=INPUT_SIZE, width=32),
        spec=image_spec(INPUT_SIZE, batch_size=32),
    )
    return project, version, assets


def _tight_loop(version, assets) -> float:
    """Decode plus inference alone: `images_infer` (read and decode one batch ahead in
    threads, batch, run), the very code the pipeline uses for it, and nothing else. Seconds."""
    from activelearn.inference.runtime import ImageRef, images_infer

    refs = [ImageRef(a.file.name, a.width, a.height) for a in assets]
    start = time.perf_counter()
    images_infer(version, refs)
    return time.perf_counter() - start


def _plain_loop(version, assets) -> float:
    """For comparison: one thread, read, decode, batch, run, in sequence. Seconds."""
    from django.core.files.storage import default_storage

    from activelearn.inference.runtime import (
        ImageRef,
        image_decode,
        images_to_tensor,
        model_run,
        model_session,
    )
    from activelearn.inference.spec import ModelSpec

    spec = ModelSpec.from_version(version)
    session = model_session(version)
    refs = [ImageRef(a.file.name, a.width, a.height) for a in assets]
    start = time.perf_counter()
    for first in range(0, len(refs), spec.batch_size):
        batch = []
        for ref in refs[first : first + spec.batch_size]:
            with default_storage.open(ref.name, "rb") as handle:
                batch.append(image_decode(handle.read(), ref, spec))
        model_run(session, spec, images_to_tensor(batch, spec))
    return time.perf_counter() - start


def _pipeline(project, version) -> float:
    """The scoring services end to end, in-process. Seconds."""
    from activelearn.models import ScoringRun
    from activelearn.scoring.runs import score_chunk, scoring_run_finish, scoring_run_split

    start = time.perf_counter()
    run = ScoringRun.objects.create(project=project, model_version=version, reason="manual")
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    if not scoring_run_finish(run_id=run.pk):
        raise RuntimeError("the run did not finish")
    elapsed = time.perf_counter() - start
    run.refresh_from_db()
    if run.tasks_scored != IMAGES:
        raise RuntimeError(f"scored {run.tasks_scored} of {IMAGES}")
    return elapsed


def _through_worker(project, version, database_url: str, media_root: str) -> float | None:
    """One run through a real Celery worker (2 processes) on a private queue. Seconds."""
    from django.conf import settings

    from activelearn.models import ScoringRun
    from activelearn.scoring.runs import scoring_run_start
    from config.celery import all_queues, app

    queue = f"bench-scoring-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    settings.WORK_QUEUE_PREFIX = f"{queue}."
    env = {**os.environ, "DATABASE_URL": database_url, "MEDIA_ROOT": media_root}
    env["CELERY_QUEUE"] = queue
    env["CELERY_QUEUE_PREFIX"] = settings.WORK_QUEUE_PREFIX
    log = Path(media_root) / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(all_queues()),
         "-n", f"{queue}@%h", "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                print(f"worker did not start:\n{log.read_text()[-2000:]}", file=sys.stderr)
                return None
        # Warm the worker processes' session caches with a first run, then time a second.
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            run = scoring_run_start(project=project, reason="manual", model_version=version)
            while True:
                run.refresh_from_db()
                if run.state in (ScoringRun.State.DONE, ScoringRun.State.FAILED):
                    break
                if time.perf_counter() - start > 600:
                    raise RuntimeError("worker run timed out")
                time.sleep(0.02)
            if run.state != ScoringRun.State.DONE:
                raise RuntimeError(f"worker run failed: {run.error}")
            timings.append(time.perf_counter() - start)
        return timings[-1]
    finally:
        os.killpg(worker.pid, 15)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)


def main() -> None:
    base_url = _server_url()
    database_url, drop = _fresh_database(base_url)
    media_root = tempfile.mkdtemp(prefix="bench-scoring-media-")
    try:
        _setup_django(database_url, media_root)
        import onnxruntime

        print(f"preparing {IMAGES} images of 640x480 ...", flush=True)
        project, version, assets = _make_project(IMAGES)
        _tight_loop(version, assets)  # warm the page cache and the session
        _pipeline(project, version)
        loops, pipes, plains = [], [], []
        for round_number in range(ROUNDS):
            loops.append(_tight_loop(version, assets))
            pipes.append(_pipeline(project, version))
            plains.append(_plain_loop(version, assets))
            print(
                f"round {round_number + 1}: decode+inference {IMAGES / loops[-1]:.1f} img/s, "
                f"pipeline {IMAGES / pipes[-1]:.1f} img/s (ratio {loops[-1] / pipes[-1]:.3f}), "
                f"single-thread loop {IMAGES / plains[-1]:.1f} img/s",
                flush=True,
            )
        # Load from other jobs only ever adds time, so each side's fastest round is the best
        # estimate of its own cost; the median of the per-round ratios is printed alongside.
        ratio = min(loops) / min(pipes)
        median_ratio = statistics.median(lp / pp for lp, pp in zip(loops, pipes, strict=True))
        loop_rate, pipe_rate = IMAGES / min(loops), IMAGES / min(pipes)
        plain_rate = IMAGES / min(plains)
        print(f"onnxruntime {onnxruntime.__version__}, {os.cpu_count()} CPUs, best of {ROUNDS}")
        print(f"decode+inference tight loop: {loop_rate:.1f} images/s")
        print(f"single-thread read+decode+inference loop: {plain_rate:.1f} images/s")
        print(f"scoring pipeline in-process: {pipe_rate:.1f} images/s")
        print(f"median of per-round ratios: {median_ratio:.3f}")
        if WORKER:
            seconds = _through_worker(project, version, database_url, media_root)
            if seconds:
                print(f"through a real worker (2 processes): {IMAGES / seconds:.1f} images/s")
        print(f"pipeline_ratio={ratio:.3f} images_per_s={pipe_rate:.1f}")
    finally:
        from django.db import connections

        connections.close_all()
        drop()
        shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
