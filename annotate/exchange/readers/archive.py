"""Reading uploaded zip archives defensively: a bounded number of entries and bytes, and no
entry names that climb out of the archive."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings

from . import FileRejected


def open_zip(stream: BinaryIO) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(stream)
    except zipfile.BadZipFile:
        raise FileRejected("The file is not a zip archive.") from None
    entries = archive.infolist()
    if len(entries) > settings.MEDIA_ZIP_MAX_ENTRIES:
        raise FileRejected(f"The archive has more than {settings.MEDIA_ZIP_MAX_ENTRIES} entries.")
    if sum(e.file_size for e in entries) > settings.MEDIA_ZIP_MAX_TOTAL_BYTES:
        raise FileRejected("The archive unpacks to more than the allowed size.")
    return archive


def text_entries(archive: zipfile.ZipFile, suffix: str) -> Iterator[tuple[str, str]]:
    """(safe relative name, text) of the archive's files ending in `suffix`, sorted by name."""
    for entry in sorted(archive.infolist(), key=lambda e: e.filename):
        if entry.is_dir() or not entry.filename.endswith(suffix):
            continue
        parts = PurePosixPath(entry.filename.replace("\\", "/")).parts
        if any(p in ("..", "/") for p in parts) or entry.filename.startswith("/"):
            raise FileRejected(f"Entry {entry.filename!r} points outside the archive.")
        if parts and parts[0] == "__MACOSX":
            continue
        yield "/".join(parts), archive.read(entry).decode("utf-8-sig", errors="replace")
