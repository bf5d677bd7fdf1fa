"""`manage.py import_media PROJECT PATH` imports a folder or a zip and prints a summary;
bad input is a clear CommandError."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from annotate.models import Asset
from tests.annotate.ingest_media import jpeg_bytes, nothing_left, png_bytes, zip_bytes

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("import_media", *args, stdout=out)
    return out.getvalue()


def test_a_folder_is_imported_by_project_id_with_a_summary(project, media_root, tmp_path):
    folder = tmp_path / "shots"
    (folder / "day2").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(jpeg_bytes(seed=1))
    (folder / "day2" / "b.png").write_bytes(png_bytes())
    (folder / "day2" / "copy-of-a.jpg").write_bytes(jpeg_bytes(seed=1))
    (folder / "notes.txt").write_text("not media")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    (folder / "link.jpg").symlink_to(folder / "a.jpg")

    output = _run(str(project.pk), str(folder))

    assert Asset.objects.filter(project=project).count() == 2
    assert "Pedestrians: 2 created, 1 duplicate(s), 2 error(s)" in output
    assert "day2/b.png" in output
    assert "Symbolic links are skipped" in output


def test_a_zip_is_imported_by_project_name(project, media_root, tmp_path):
    archive = tmp_path / "batch.zip"
    archive.write_bytes(zip_bytes({"x/1.jpg": jpeg_bytes(seed=1), "2.jpg": jpeg_bytes(seed=2)}))

    output = _run("Pedestrians", str(archive))

    assert Asset.objects.filter(project=project).count() == 2
    assert "2 created, 0 duplicate(s), 0 error(s)" in output


def test_an_unknown_project_is_a_clear_error(project, tmp_path):
    with pytest.raises(CommandError, match=r"No project with id or name 'Nope'"):
        _run("Nope", str(tmp_path))


def test_a_missing_path_is_a_clear_error(project, tmp_path):
    with pytest.raises(CommandError, match=r"does not exist"):
        _run(str(project.pk), str(tmp_path / "missing"))


def test_a_refused_zip_is_a_clear_error_and_stores_nothing(project, media_root, tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zip_bytes({"ok.jpg": jpeg_bytes(seed=1), "../x.jpg": jpeg_bytes(seed=2)}))

    with pytest.raises(CommandError, match=r"evil.zip: .*outside the archive"):
        _run(str(project.pk), str(archive))

    assert nothing_left(media_root, project)


def test_a_folder_of_only_bad_files_is_an_error(project, media_root, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"")

    with pytest.raises(CommandError, match=r"Nothing was imported"):
        _run(str(project.pk), str(tmp_path / "bad"))
