"""Export 100,000 annotations to COCO through the real export path, timing it and printing
the peak memory it took.

    .venv/bin/python benchmarks/export.py [--fresh] [--annotations N]

Uses its own PostgreSQL database (BENCH_DATABASE_URL, default: database bench_export on the
server of DATABASE_URL, or on the embedded one when that is unset), created and migrated if
missing, filled once with bulk inserts (images with four boxes and one person box with a
skeleton each) and reused on later runs. The export runs in a fresh child process so that its
peak resident memory (ru_maxrss, printed before and after) is not inflated by the inserts. A
second, untimed export runs under tracemalloc: peak_mb is the peak of Python allocations
during the export, the number that would grow with the project if anything were held in
memory.
Last line: export_s=<seconds of the timed export> peak_mb=<tracemalloc peak in MB>.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROJECT_NAME = "Export benchmark"
OBJECTS_PER_IMAGE = 5  # four boxes and one person with box and skeleton


def _bench_url() -> str:
    """Database bench_export on DATABASE_URL's server, or on the embedded one."""
    from annotate.embedded.postgres import ensure_database_url

    return ensure_database_url().rsplit("/", 1)[0] + "/bench_export"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("MEDIA_ROOT", "/tmp/annotate-bench-media")
    import django

    django.setup()


def ensure_database(url: str, *, drop: bool = False) -> None:
    """Create the benchmark's database (dropping it first when asked): it is its own, so a
    rebuild is a DROP DATABASE rather than deleting rows."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepared_project(annotations: int) -> int | None:
    """The benchmark project if the database already holds it at this size."""
    from annotate.models import Project

    project = Project.objects.filter(name=PROJECT_NAME).first()
    if project and project.tasks.count() == annotations // OBJECTS_PER_IMAGE:
        return project.pk
    return None


def populate(annotations: int) -> int:
    from django.core.management import call_command
    from django.db import transaction

    from annotate.models import (
        Annotation,
        AnnotationTask,
        Asset,
        Box,
        KeypointInstance,
        LabelClass,
        Project,
    )
    from annotate.schema import skeleton_preset

    call_command("migrate", verbosity=0)
    images = annotations // OBJECTS_PER_IMAGE
    started = time.perf_counter()
    with transaction.atomic():
        project = Project.objects.create(
            name=PROJECT_NAME, skeleton=skeleton_preset("coco17"), keypoints_enabled=True
        )
        person = LabelClass.objects.create(project=project, name="person", order=0)
        others = [
            LabelClass.objects.create(project=project, name=name, order=i + 1)
            for i, name in enumerate(["car", "bicycle", "dog"])
        ]
        names = project.keypoint_names
        batch = 2000
        for first in range(0, images, batch):
            count = min(batch, images - first)
            assets = Asset.objects.bulk_create(
                Asset(
                    project=project,
                    kind="image",
                    file=f"bench/{first + i}.jpg",
                    original_name=f"img_{first + i:07d}.jpg",
                    sha256=f"{project.pk:08d}{first + i:056d}",
                    content_type="image/jpeg",
                    width=1280,
                    height=720,
                    state="ready",
                )
                for i in range(count)
            )
            tasks = AnnotationTask.objects.bulk_create(
                AnnotationTask(project=project, asset=a, kind="image", state="accepted")
                for a in assets
            )
            versions = Annotation.objects.bulk_create(
                Annotation(task=t, version=1, kind="submission") for t in tasks
            )
            boxes, skeletons = [], []
            for n, version in enumerate(versions):
                for j in range(4):
                    boxes.append(
                        Box(
                            annotation=version,
                            label_class=others[j % 3],
                            x=10.5 + 50 * j,
                            y=20.25 + n % 100,
                            w=40 + j,
                            h=30.5,
                        )
                    )
                boxes.append(
                    Box(annotation=version, label_class=person, x=600, y=100, w=200, h=500)
                )
                skeletons.append(
                    KeypointInstance(
                        annotation=version,
                        label_class=person,
                        points={
                            name: [610 + 10 * k, 110 + 25 * k, (k + n) % 3]
                            for k, name in enumerate(names)
                        },
                    )
                )
            Box.objects.bulk_create(boxes, batch_size=5000)
            KeypointInstance.objects.bulk_create(skeletons, batch_size=5000)
    print(
        f"inserted {images} images, {images * OBJECTS_PER_IMAGE} annotations "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return project.pk


def measure(project_id: int) -> None:
    """In a fresh process: export once timed with ru_maxrss, once under tracemalloc."""
    import tempfile
    import tracemalloc

    from annotate.exchange.selectors import ExportFilter
    from annotate.exchange.services import export_write
    from annotate.models import Project

    project = Project.objects.get(pk=project_id)
    Project.objects.count()  # connect before the baseline
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        tasks = export_write(project=project, format="coco", export_filter=ExportFilter(), out=out)
        seconds = time.perf_counter() - started
        size = out.tell()
    after_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    with tempfile.TemporaryFile() as out:
        export_write(project=project, format="coco", export_filter=ExportFilter(), out=out)
    traced_mb = tracemalloc.get_traced_memory()[1] / 1024 / 1024
    tracemalloc.stop()
    print(
        f"tasks={tasks} file_mb={size / 1024 / 1024:.1f} "
        f"rss_before_mb={before_kb / 1024:.1f} rss_peak_mb={after_kb / 1024:.1f} "
        f"rss_added_mb={(after_kb - before_kb) / 1024:.1f}"
    )
    print(f"export_s={seconds:.2f} peak_mb={traced_mb:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fresh", action="store_true", help="rebuild the data")
    parser.add_argument("--annotations", type=int, default=100_000)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL") or _bench_url()
    if args.measure:
        setup_django(url)
        measure(args.measure)
        return
    ensure_database(url)
    setup_django(url)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    project_id = None if args.fresh else prepared_project(args.annotations)
    if project_id is None:
        connections.close_all()
        ensure_database(url, drop=True)
        project_id = populate(args.annotations)
    connections.close_all()
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(project_id)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(child.stdout)


if __name__ == "__main__":
    main()
