"""Zip archives, read as hostile: the whole central directory is checked before any entry is
read (entry count, total uncompressed size, `..` and absolute paths, symbolic links,
encrypted entries), then entries are streamed one at a time, never extracted to disk by name.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings

from .sniff import MediaRejected

SKIPPED_PREFIXES = ("__MACOSX/",)


class ZipRejected(MediaRejected):
    """The archive is refused as a whole; nothing from it is stored."""


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    # Unix mode bits live in the high 16 bits of external_attr.
    return stat.S_ISLNK(info.external_attr >> 16)


def _unsafe_path_reason(name: str) -> str | None:
    if "\x00" in name:
        return "contains a NUL character"
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return "is an absolute path"
    if ".." in PurePosixPath(normalised).parts:
        return "points outside the archive (..)"
    return None


def zip_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The file entries worth reading, after checking every entry; or ZipRejected."""
    infos = archive.infolist()
    max_entries = settings.MEDIA_ZIP_MAX_ENTRIES
    max_total = settings.MEDIA_ZIP_MAX_TOTAL_BYTES
    if len(infos) > max_entries:
        raise ZipRejected(
            f"The zip has {len(infos)} entries; the limit is {max_entries}. Split it up."
        )
    total = 0
    members = []
    seen: set[str] = set()
    for info in infos:
        shown = info.filename[:200]
        if info.filename in seen:
            raise ZipRejected(f"The zip is refused: entry {shown!r} appears twice.")
        seen.add(info.filename)
        reason = _unsafe_path_reason(info.filename)
        if reason:
            raise ZipRejected(f"The zip is refused: entry {shown!r} {reason}.")
        if _is_symlink(info):
            raise ZipRejected(f"The zip is refused: entry {shown!r} is a symbolic link.")
        if info.flag_bits & 0x1:
            raise ZipRejected(f"The zip is refused: entry {shown!r} is encrypted.")
        total += info.file_size
        if total > max_total:
            raise ZipRejected(f"The zip unpacks to more than the limit of {max_total / 1e9:g} GB.")
        if info.is_dir() or info.filename.startswith(SKIPPED_PREFIXES):
            continue
        if PurePosixPath(info.filename.replace("\\", "/")).name.startswith("."):
            continue  # .DS_Store and friends
        members.append(info)
    return members


def open_zip(source: str | BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise ZipRejected(f"The zip archive cannot be read ({error}).") from None


def iter_zip(source: str | BinaryIO) -> Iterator[tuple[str, BinaryIO]]:
    """(entry name, stream) for each file entry, after the whole archive passed the checks.

    A stream reads at most the entry's declared size and checks its CRC at the end, so the
    declared total bounds what is ever decompressed.
    """
    with open_zip(source) as archive:
        for info in zip_members(archive):
            with archive.open(info) as stream:
                yield info.filename, stream
