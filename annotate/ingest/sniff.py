"""What an uploaded file is, decided from its content (magic bytes), never from its name.

Only the types below are accepted; everything else is refused with a message that says what
the content looked like.
"""

from __future__ import annotations

from dataclasses import dataclass

import filetype

HEAD_BYTES = 8192


@dataclass(frozen=True)
class MediaType:
    content_type: str
    kind: str  # "image" or "video"
    suffix: str  # for the generated stored name


ACCEPTED: dict[str, MediaType] = {
    t.content_type: t
    for t in (
        MediaType("image/jpeg", "image", ".jpg"),
        MediaType("image/png", "image", ".png"),
        MediaType("image/webp", "image", ".webp"),
        MediaType("image/gif", "image", ".gif"),
        MediaType("image/bmp", "image", ".bmp"),
        MediaType("video/mp4", "video", ".mp4"),
        MediaType("video/webm", "video", ".webm"),
        MediaType("video/x-matroska", "video", ".mkv"),
        MediaType("video/quicktime", "video", ".mov"),
        MediaType("video/x-msvideo", "video", ".avi"),
    )
}
ZIP = "application/zip"

# filetype names a few of these differently.
_ALIASES = {"video/x-m4v": "video/mp4", "video/mpeg4": "video/mp4"}


class MediaRejected(Exception):
    """Base of every refusal of hostile or unusable input; str() is for the person who sent it."""


class UnsupportedMedia(MediaRejected):
    """The content is not an accepted image or video; the message says what it looked like."""


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes of a file show, or None when nothing matches."""
    if not head:
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    guessed = filetype.guess_mime(head)
    return _ALIASES.get(guessed, guessed)


def _looks_like_text(head: bytes) -> bool:
    sample = head[:1024]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def media_type_of(head: bytes) -> MediaType:
    """The accepted media type of this content, or UnsupportedMedia with a clear message."""
    if not head:
        raise UnsupportedMedia("The file is empty (0 bytes).")
    mime = sniff(head)
    if mime in ACCEPTED:
        return ACCEPTED[mime]
    if mime is None:
        seen = "text" if _looks_like_text(head) else "unrecognised binary data"
    else:
        seen = mime
    raise UnsupportedMedia(
        f"The content is not a supported image or video (it looks like {seen}); "
        "accepted are JPEG, PNG, WebP, GIF, BMP images and MP4, WebM, MKV, MOV, AVI videos."
    )
