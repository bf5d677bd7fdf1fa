"""CVAT for video 1.1 files written the way CVAT writes them (track ids from 0, a task whose
<name> is not its <source> file, box and skeleton tracks apart), for the import tests."""

from __future__ import annotations


def box(frame: int, x: float, y: float, w: float = 10, h: float = 10, **extra) -> str:
    attributes = extra.pop("attributes", {})
    flags = {"keyframe": 1, "outside": 0, "occluded": 0, **extra}
    text = " ".join(f'{k}="{v}"' for k, v in flags.items())
    inner = "".join(f'<attribute name="{k}">{v}</attribute>' for k, v in attributes.items())
    return (
        f'<box frame="{frame}" {text} xtl="{x}" ytl="{y}" xbr="{x + w}" ybr="{y + h}" '
        f'z_order="0">{inner}</box>'
    )


def skeleton(frame: int, points: dict[str, tuple[float, float]], **extra) -> str:
    flags = {"keyframe": 1, "outside": 0, "occluded": 0, **extra}
    text = " ".join(f'{k}="{v}"' for k, v in flags.items())
    inner = "".join(
        f'<points label="{name}" keyframe="1" outside="0" occluded="0" points="{x},{y}"/>'
        for name, (x, y) in points.items()
    )
    return f'<skeleton frame="{frame}" {text} z_order="0">{inner}</skeleton>'


def track(track_id: int, label: str, shapes: list[str], group: int | None = None) -> str:
    grouped = f' group_id="{group}"' if group is not None else ""
    return (
        f'<track id="{track_id}" label="{label}" source="manual"{grouped}>'
        + "".join(shapes)
        + "</track>"
    )


def cvat_video(tracks: list[str], *, name: str, source: str | None = None, extra="") -> bytes:
    source_element = f"<source>{source}</source>" if source else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
        f"<meta><task><id>7</id><name>{name}</name><mode>interpolation</mode>"
        "<labels><label><name>person</name><type>rectangle</type></label></labels>"
        f"</task>{source_element}<dumped>2026-11-30</dumped></meta>"
        + "".join(tracks)
        + extra
        + "</annotations>"
    ).encode()
