"""Zips are checked as a whole before any entry is read: `..` paths, absolute paths,
symbolic links and too many entries refuse the archive, and nothing from it is stored."""

from __future__ import annotations

import io

import pytest

from annotate.ingest.services import IngestError, ingest_files, ingest_path
from annotate.ingest.zips import ZipRejected, iter_zip
from annotate.models import Asset
from tests.annotate.ingest_media import jpeg_bytes, nothing_left, png_bytes, zip_bytes

pytestmark = pytest.mark.django_db


def _write(tmp_path, data: bytes, name: str = "upload.zip"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_zip_of_images_is_imported_entry_by_entry(project, media_root, tmp_path):
    archive = zip_bytes(
        {"a/one.jpg": jpeg_bytes(seed=1), "two.png": png_bytes(), "__MACOSX/._two.png": b"x"}
    )

    report = ingest_path(project=project, path=_write(tmp_path, archive))

    assert [(r.name, r.status) for r in report.results] == [
        ("a/one.jpg", "created"),
        ("two.png", "created"),
    ]
    assert Asset.objects.filter(project=project).count() == 2


def test_a_zip_with_a_dotdot_path_is_refused_whole(project, media_root, tmp_path):
    archive = zip_bytes({"good.jpg": jpeg_bytes(seed=1), "../evil.jpg": jpeg_bytes(seed=2)})

    with pytest.raises(IngestError, match=r"outside the archive"):
        ingest_path(project=project, path=_write(tmp_path, archive))

    assert nothing_left(media_root, project)
    assert not (tmp_path / "evil.jpg").exists()


def test_a_zip_with_an_absolute_path_is_refused_whole(project, media_root, tmp_path):
    archive = zip_bytes({"good.jpg": jpeg_bytes(seed=1), "/etc/evil.jpg": jpeg_bytes(seed=2)})

    with pytest.raises(IngestError, match=r"absolute path"):
        ingest_path(project=project, path=_write(tmp_path, archive))

    assert nothing_left(media_root, project)


def test_a_zip_holding_a_symlink_is_refused_whole(project, media_root, tmp_path):
    archive = zip_bytes({"good.jpg": jpeg_bytes(seed=1)}, symlinks={"link.jpg": "/etc/passwd"})

    with pytest.raises(IngestError, match=r"symbolic link"):
        ingest_path(project=project, path=_write(tmp_path, archive))

    assert nothing_left(media_root, project)


def test_a_zip_over_the_entry_limit_is_refused_whole(project, media_root, tmp_path, settings):
    settings.MEDIA_ZIP_MAX_ENTRIES = 2
    archive = zip_bytes({f"{i}.jpg": jpeg_bytes(seed=i) for i in range(3)})

    with pytest.raises(IngestError, match=r"3 entries; the limit is 2"):
        ingest_path(project=project, path=_write(tmp_path, archive))

    assert nothing_left(media_root, project)


def test_a_zip_over_the_size_limit_is_refused_before_anything_is_unpacked(settings):
    settings.MEDIA_ZIP_MAX_TOTAL_BYTES = 1000
    archive = zip_bytes({"zeros.jpg": b"\xff\xd8\xff" + b"\x00" * 10_000})

    with pytest.raises(ZipRejected, match=r"unpacks to more than the limit"):
        list(iter_zip(io.BytesIO(archive)))


def test_a_zip_inside_a_zip_is_not_unpacked(project, media_root, tmp_path):
    inner = zip_bytes({"x.jpg": jpeg_bytes(seed=1)})
    archive = zip_bytes({"inner.zip": inner, "ok.png": png_bytes()})

    report = ingest_path(project=project, path=_write(tmp_path, archive))

    assert [(r.name, r.status) for r in report.results] == [
        ("inner.zip", "error"),
        ("ok.png", "created"),
    ]
    assert "inside archives" in report.results[0].message


def test_an_uploaded_zip_with_a_dotdot_path_gives_one_error_and_stores_nothing(project, media_root):
    archive = zip_bytes({"good.jpg": jpeg_bytes(seed=1), "../../evil.jpg": jpeg_bytes(seed=2)})

    report = ingest_files(project=project, files=[("photos.zip", io.BytesIO(archive))])

    assert [(r.name, r.status) for r in report.results] == [("photos.zip", "error")]
    assert "outside the archive" in report.results[0].message
    assert nothing_left(media_root, project)


def test_a_damaged_zip_is_refused_with_a_message(project, media_root, tmp_path):
    archive = zip_bytes({"a.jpg": jpeg_bytes(seed=1)})

    with pytest.raises(IngestError, match=r"cannot be read"):
        ingest_path(project=project, path=_write(tmp_path, archive[: len(archive) // 2]))
