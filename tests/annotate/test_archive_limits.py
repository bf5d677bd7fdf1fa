"""Archives are bounded per entry and in all, for imports as for uploads, and are read as
streams: a small zip that unpacks to a huge entry is refused before it is read, a header that
understates an entry's size is caught while reading, and a large allowed entry is never held
whole in memory."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile

import pytest

from annotate.exchange.importing import ImportRefused, import_file
from annotate.ingest.services import ingest_files
from annotate.models import Annotation
from tests.annotate.ingest_media import jpeg_bytes, nothing_left, zip_bytes

from .exchange_builders import fresh_copy

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh(project):
    fresh_copy(project)
    return project


def deflated(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def understated(data: bytes, claimed: int) -> bytes:
    """The zip with every entry's uncompressed size rewritten to `claimed` (a lying header)."""
    patched = bytearray(data)
    at = 0
    while (at := patched.find(b"PK\x03\x04", at)) >= 0:
        struct.pack_into("<I", patched, at + 22, claimed)
        at += 4
    at = 0
    while (at := patched.find(b"PK\x01\x02", at)) >= 0:
        struct.pack_into("<I", patched, at + 24, claimed)
        at += 4
    return bytes(patched)


def refused(project, data: bytes, format: str) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        import_file(io.BytesIO(data), project=project, format=format, mode="ground_truth")
    return caught.value


def test_a_small_yolo_zip_holding_one_256_mib_text_entry_is_refused_before_it_is_read(fresh):
    data = deflated({"labels/street/a.txt": b"\n" * (256 * 1024**2)})
    assert len(data) < 300 * 1024  # the 261 KB file of the report

    tracemalloc.start()
    try:
        error = refused(fresh, data, "yolo")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert "unpacks to 256 MiB, more than the limit of 64 MiB per entry" in error.message
    assert peak < 20 * 1024**2
    assert not Annotation.objects.filter(task__project=fresh).exists()


@pytest.mark.parametrize(
    ("format", "name"),
    [("yolo", "labels/street/a.txt"), ("mot", "walk/gt/gt.txt"), ("cvat", "walk.xml")],
)
def test_every_label_archive_reader_applies_the_per_entry_limit(fresh, settings, format, name):
    settings.IMPORT_ZIP_MAX_ENTRY_BYTES = 1000
    data = deflated({name: b" " * 2000})
    assert "more than the limit of 1,000 bytes per entry" in refused(fresh, data, format).message


def test_a_label_archive_over_the_total_limit_is_refused(fresh, settings):
    settings.IMPORT_ZIP_MAX_TOTAL_BYTES = 3000
    data = deflated({f"labels/{i}.txt": b" " * 1000 for i in range(4)})
    assert "unpacks to more than the limit of 3,000 bytes" in refused(fresh, data, "yolo").message


def test_a_label_archive_over_the_entry_count_limit_is_refused(fresh, settings):
    settings.IMPORT_ZIP_MAX_ENTRIES = 3
    data = deflated({f"labels/{i}.txt": b"" for i in range(4)})
    assert "4 entries; the limit is 3" in refused(fresh, data, "yolo").message


def test_an_entry_whose_header_understates_its_size_is_refused_while_reading(fresh):
    lines = b"0 0.5 0.5 0.1 0.1\n" * 100_000
    data = understated(deflated({"labels/street/a.txt": lines}), claimed=100)

    error = refused(fresh, data, "yolo")

    assert "labels/street/a.txt" in error.message
    assert "refused" in error.message or "damaged" in error.message
    assert not Annotation.objects.filter(task__project=fresh).exists()


def test_a_large_allowed_label_entry_is_read_line_by_line(fresh):
    blank = (b" " * 1023 + b"\n") * (40 * 1024)  # 40 MiB, under the 64 MiB default; no labels
    data = deflated({"labels/street/a.txt": blank})

    tracemalloc.start()
    try:
        result = import_file(io.BytesIO(data), project=fresh, format="yolo", mode="ground_truth")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert result.errors == []
    assert peak < 20 * 1024**2  # the entry is 40 MiB: it was never held whole


def test_an_oversized_data_yaml_is_refused(fresh):
    data = deflated({"data.yaml": b"#" * (2 * 1024**2), "labels/street/a.txt": b""})
    assert "larger than the limit of 1 MiB" in refused(fresh, data, "yolo").message


def test_a_coco_file_over_the_json_limit_is_refused(fresh, settings):
    settings.IMPORT_JSON_MAX_BYTES = 100
    data = json.dumps({"images": [], "annotations": [], "categories": [], "x": "y" * 200})
    assert "larger than the limit" in refused(fresh, data.encode(), "coco").message


def test_an_uploaded_zip_entry_over_the_media_entry_limit_is_refused(project, media_root, settings):
    settings.MEDIA_ZIP_MAX_ENTRY_BYTES = 5000
    archive = zip_bytes({"big.jpg": jpeg_bytes(width=640, height=480, seed=3)})

    report = ingest_files(project=project, files=[("photos.zip", io.BytesIO(archive))])

    assert [r.status for r in report.results] == ["error"]
    assert "per entry" in report.results[0].message
    assert nothing_left(media_root, project)


def test_an_uploaded_zip_entry_that_understates_its_size_is_refused(project, media_root):
    archive = understated(deflated({"big.jpg": jpeg_bytes(width=320, height=240, seed=4)}), 100)

    report = ingest_files(project=project, files=[("photos.zip", io.BytesIO(archive))])

    assert [r.status for r in report.results] == ["error"]
    assert "big.jpg" in report.results[0].message
    assert nothing_left(media_root, project)
