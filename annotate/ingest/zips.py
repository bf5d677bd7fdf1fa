"""Zip archives of media, read as hostile through annotate.archives: the whole central
directory is checked before any entry is read (entry count, per-entry and total uncompressed
size, `..` and absolute paths, symbolic links, encrypted entries), then entries are streamed
one at a time with their bytes counted, never extracted to disk by name.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings

from annotate.archives import ArchiveLimits, archive_members, archive_open, iter_entries

from .sniff import MediaRejected


class ZipRejected(MediaRejected):
    """The archive is refused as a whole; nothing from it is stored."""


def media_zip_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_entries=settings.MEDIA_ZIP_MAX_ENTRIES,
        max_entry_bytes=settings.MEDIA_ZIP_MAX_ENTRY_BYTES,
        max_total_bytes=settings.MEDIA_ZIP_MAX_TOTAL_BYTES,
        rejected=ZipRejected,
    )


def zip_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The file entries worth reading, after checking every entry; or ZipRejected."""
    return archive_members(archive, media_zip_limits())


def open_zip(source: str | BinaryIO) -> zipfile.ZipFile:
    return archive_open(source, media_zip_limits())


def iter_zip(source: str | BinaryIO) -> Iterator[tuple[str, BinaryIO]]:
    """(entry name, stream) for each file entry, after the whole archive passed the checks.

    A stream counts what it decompresses and stops with ZipRejected past the entry's declared
    size or the per-entry limit, so the declared total bounds what is ever decompressed.
    """
    yield from iter_entries(source, media_zip_limits())
