"""Zip archives read as hostile, for uploads of media (annotate/ingest) and imports of labels
(annotate/exchange) alike: the central directory is checked whole before any entry is read,
then entries are streamed with every byte counted, so no header can make us hold more.

Each caller passes its own limits and the exception it raises (a refused upload and a refused
import are reported differently); the rules are the same.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

SKIPPED_PREFIXES = ("__MACOSX/",)
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int
    max_entry_bytes: int  # uncompressed size of one entry
    max_total_bytes: int  # uncompressed size of all entries together
    rejected: type[Exception]  # raised with the reason in words


def _size(number: int) -> str:
    if number >= 1024**3:
        return f"{number / 1024**3:g} GiB"
    if number >= 1024**2:
        return f"{number / 1024**2:g} MiB"
    return f"{number:,} bytes"


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


def archive_open(source: str | BinaryIO, limits: ArchiveLimits) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise limits.rejected(f"The zip archive cannot be read ({error}).") from None


def archive_members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The file entries worth reading (no folders, __MACOSX or dot files), after checking every
    entry: count, declared sizes, unsafe names, symbolic links, encryption, duplicates."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise limits.rejected(
            f"The zip has {len(infos)} entries; the limit is {limits.max_entries}. Split it up."
        )
    total = 0
    members = []
    seen: set[str] = set()
    for info in infos:
        shown = info.filename[:200]
        if info.filename in seen:
            raise limits.rejected(f"The zip is refused: entry {shown!r} appears twice.")
        seen.add(info.filename)
        reason = _unsafe_path_reason(info.filename)
        if reason:
            raise limits.rejected(f"The zip is refused: entry {shown!r} {reason}.")
        if _is_symlink(info):
            raise limits.rejected(f"The zip is refused: entry {shown!r} is a symbolic link.")
        if info.flag_bits & 0x1:
            raise limits.rejected(f"The zip is refused: entry {shown!r} is encrypted.")
        if info.file_size > limits.max_entry_bytes:
            raise limits.rejected(
                f"The zip is refused: entry {shown!r} unpacks to {_size(info.file_size)}, more "
                f"than the limit of {_size(limits.max_entry_bytes)} per entry."
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise limits.rejected(
                f"The zip unpacks to more than the limit of {_size(limits.max_total_bytes)}."
            )
        if info.is_dir() or info.filename.startswith(SKIPPED_PREFIXES):
            continue
        if PurePosixPath(info.filename.replace("\\", "/")).name.startswith("."):
            continue  # .DS_Store and friends
        members.append(info)
    return members


class BoundedEntry(io.RawIOBase):
    """One entry's bytes, counted as they are decompressed: more than the entry's declared
    size (a header that lies) or than `limit` raises limits.rejected. Since every entry stops
    at its declared size and the declared sizes were summed by archive_members, the total
    read from an archive is bounded too."""

    def __init__(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits, limit: int
    ) -> None:
        super().__init__()
        self.name = info.filename
        self._limits = limits
        self._limit = min(info.file_size, limit)
        self._declared = info.file_size
        self._count = 0
        self._stream = archive.open(info)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # One byte more than allowed, so an entry that is too long is noticed, not truncated.
        want = min(len(buffer), self._limit - self._count + 1)
        try:
            data = self._stream.read(want)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise self._limits.rejected(f"{self.name}: the entry is damaged ({error}).") from None
        self._count += len(data)
        if self._count > self._limit:
            if self._count > self._declared:
                raise self._limits.rejected(
                    f"{self.name}: the entry holds more than its header declares; refused."
                )
            raise self._limits.rejected(
                f"{self.name}: the entry is larger than the limit of {_size(self._limit)}."
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def entry_open(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo | str,
    limits: ArchiveLimits,
    *,
    limit: int | None = None,
) -> io.BufferedReader:
    """A buffered, byte-counted stream of one entry; `limit` lowers the per-entry limit (a
    small side file such as data.yaml has no business being large)."""
    if isinstance(info, str):
        info = archive.getinfo(info)
    cap = limits.max_entry_bytes if limit is None else min(limit, limits.max_entry_bytes)
    return io.BufferedReader(BoundedEntry(archive, info, limits, cap), buffer_size=READ_CHUNK)


def entry_lines(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits
) -> Iterator[str]:
    """The entry as lines of text (UTF-8, a BOM dropped, bad bytes replaced), one at a time."""
    with entry_open(archive, info, limits) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)
        for line in text:
            yield line.rstrip("\n")


def entry_bytes(archive: zipfile.ZipFile, name: str, limits: ArchiveLimits, *, limit: int) -> bytes:
    """A small side file whole, at most `limit` bytes (else limits.rejected)."""
    with entry_open(archive, name, limits, limit=limit) as stream:
        return stream.read()


def iter_entries(
    source: str | BinaryIO, limits: ArchiveLimits
) -> Iterator[tuple[str, io.BufferedReader]]:
    """(entry name, counted stream) for each file entry, after the whole archive passed."""
    with archive_open(source, limits) as archive:
        for info in archive_members(archive, limits):
            with entry_open(archive, info, limits) as stream:
                yield info.filename, stream
