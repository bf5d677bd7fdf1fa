"""Zip archives of labels, read through annotate.archives (the same checks as media uploads)
with the import limits: a bounded number of entries, bytes per entry and bytes in all, no
entry names that climb out of the archive, and entries streamed line by line, never whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings

from annotate.archives import (
    ArchiveLimits,
    archive_members,
    archive_open,
    entry_bytes,
    entry_lines,
    entry_open,
)

from . import FileRejected

# data.yaml, classes.txt: a few names, never megabytes.
SIDE_FILE_MAX_BYTES = 1024 * 1024


def import_zip_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_entries=settings.IMPORT_ZIP_MAX_ENTRIES,
        max_entry_bytes=settings.IMPORT_ZIP_MAX_ENTRY_BYTES,
        max_total_bytes=settings.IMPORT_ZIP_MAX_TOTAL_BYTES,
        rejected=FileRejected,
    )


class LabelArchive:
    """An opened, checked archive: its file entries and bounded ways to read them."""

    def __init__(self, stream: BinaryIO) -> None:
        self.limits = import_zip_limits()
        try:
            self.zip = archive_open(stream, self.limits)
        except FileRejected:
            raise FileRejected("The file is not a zip archive.") from None
        self.members = archive_members(self.zip, self.limits)
        self.names = [m.filename for m in self.members]

    def side_file(self, name: str) -> bytes:
        return entry_bytes(self.zip, name, self.limits, limit=SIDE_FILE_MAX_BYTES)

    def open(self, name: str):
        return entry_open(self.zip, name, self.limits)

    def text_entries(self, suffix: str) -> Iterator[tuple[str, Iterator[str]]]:
        """(relative name, its lines one at a time) of the entries ending in `suffix`,
        sorted by name."""
        for entry in sorted(self.members, key=lambda e: e.filename):
            if entry.filename.endswith(suffix):
                name = entry.filename.replace("\\", "/")
                yield name, entry_lines(self.zip, entry, self.limits)


def open_zip(stream: BinaryIO) -> LabelArchive:
    return LabelArchive(stream)
