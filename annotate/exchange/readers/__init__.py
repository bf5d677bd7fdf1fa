"""Format readers: each turns an uploaded file into records, one per shape or image, or an
error naming the record and the reason. A file that cannot be read at all raises FileRejected.

They know the format only; the import service resolves names against the project (unknown
image, category not in the schema, keypoint count not matching the skeleton).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class FileRejected(Exception):
    """The whole file is unreadable (malformed JSON, not a zip, ...); the message says where."""


@dataclass(frozen=True)
class ImageRef:
    """An image asset by name (frame_index None), one frame of a video asset, or a whole
    video (whole_video: every task of it is covered by the file)."""

    asset_name: str
    frame_index: int | None = None
    whole_video: bool = False
    other_names: tuple[str, ...] = ()  # tried in turn when asset_name matches nothing


@dataclass
class ShapeRecord:
    record: str  # where it came from, for error messages: "annotation id 12", "a.txt line 3"
    image: ImageRef
    label: str | None  # the category name, or None when only label_index is known
    label_index: int | None = None  # 0-based class position (YOLO, MOT without names)
    box: tuple[float, float, float, float] | None = None  # x, y, w, h
    keypoints: list[float] | None = None  # [x, y, v, ...] as in the file
    named_points: dict | None = None  # {name: [x, y, v]} (CVAT), instead of keypoints
    # The file's track id: a number, or text naming its namespace ("group 3", "track 0");
    # the import maps it to a track number of the video, never copying it blindly.
    track: int | str | None = None
    score: float | None = None
    normalized: bool = False  # YOLO: coordinates are fractions of the image size
    keyframe: bool = True
    outside: bool = False  # CVAT: the track's object is gone from this frame on
    occluded: bool = False
    attributes: dict | None = None  # {name: value} as the file gives them (CVAT: text)
    # Parts of the record the import cannot keep (kind, message); the rest is imported.
    losses: list[tuple[str, str]] = field(default_factory=list)
    group: str | None = None  # CVAT for images: the group_id joining it with loose points


@dataclass
class PointRecord:
    """One CVAT <points> shape of one point. In the points form of our CVAT exports it is a
    keypoint of a skeleton, labeled "<class>_<keypoint>"; only the import, knowing the
    schema, can tell, and joins the points of one object (annotate.exchange.points_form)."""

    record: str
    image: ImageRef  # the image, or the frame of the video
    label: str
    obj: str  # the object it belongs to in the file: "group 3", "track 5", "" (none given)
    x: float
    y: float
    outside: bool = False  # not labeled here (video: or the object is gone)
    occluded: bool = False
    keyframe: bool = True
    attributes: dict | None = None


@dataclass
class ImageRecord:
    """An image the file covers, with or without shapes: it gets a version even if empty."""

    record: str
    image: ImageRef


@dataclass
class RecordError:
    record: str
    message: str
    kind: str = "invalid"  # what the import cannot represent ("polygon", "rle", ...) or not
