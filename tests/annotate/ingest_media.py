"""Real media made on the spot for the ingestion tests (Pillow, cv2.VideoWriter, zipfile)."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from annotate.models import Asset


def jpeg_bytes(width: int = 64, height: int = 48, *, seed: int = 0, orientation: int | None = None):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    out = io.BytesIO()
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    else:
        image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png_bytes(width: int = 40, height: int = 30, colour=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def huge_png_bytes(side: int = 20000) -> bytes:
    """A 20000x20000 1-bit PNG: 400 megapixels in about 50 KB."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")
    return out.getvalue()


def video_file(path: Path, *, frames: int = 25, fps: float = 10.0, size=(64, 48)) -> Path:
    """An MJPG AVI whose frame i is a flat grey of brightness 5*i (so frames differ)."""
    fourcc = "MJPG" if path.suffix in (".avi", ".mkv") else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    for index in range(frames):
        frame = np.full((size[1], size[0], 3), (5 * index) % 256, dtype=np.uint8)
        cv2.putText(frame, str(index), (2, size[1] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255,) * 3)
        writer.write(frame)
    writer.release()
    return path


def video_bytes(tmp_path: Path, name: str = "clip.avi", **kwargs) -> bytes:
    return video_file(tmp_path / name, **kwargs).read_bytes()


def fake_mp4_bytes() -> bytes:
    """An mp4 file-type box followed by random bytes: sniffs as video/mp4, decodes as nothing."""
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(20_000)


def zip_bytes(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return out.getvalue()


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def project_files(root: Path, project_id: int) -> list[Path]:
    return stored_files(Path(root) / "projects" / str(project_id))


def nothing_left(root: Path, project) -> bool:
    return not Asset.objects.filter(project=project).exists() and not project_files(
        root, project.pk
    )


def avi_claiming_frames(data: bytes, claimed: int) -> bytes:
    """The AVI with its headers (avih total frames, strh length) claiming `claimed` frames."""
    import struct

    patched = bytearray(data)
    avih = patched.find(b"avih")
    struct.pack_into("<I", patched, avih + 8 + 16, claimed)
    strh = patched.find(b"strh")
    struct.pack_into("<I", patched, strh + 8 + 32, claimed)
    return bytes(patched)
