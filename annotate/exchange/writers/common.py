"""What the writers share: archive entries that do not depend on the clock (the same labels
give the same bytes), safe names, and the error a writer raises when it cannot go on."""

from __future__ import annotations

import zipfile
from pathlib import PurePosixPath


class ExportError(Exception):
    """The project cannot be written in this format; the message says why."""


def without_suffix(name: str) -> str:
    path = PurePosixPath(name)
    return str(path.with_suffix("")) if path.suffix else name


def zip_entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    return entry
