"""The video decoder that runs in a CHILD process (see annotate.ingest.video), so a crashing
or runaway decoder fails one asset and never the worker. Pure OpenCV, no Django.

    python decoder.py probe PATH
    python decoder.py extract PATH OUTDIR STRIDE QUALITY [MAX_FRAMES MAX_SECONDS MAX_W MAX_H]
    python decoder.py frames PATH OUTDIR QUALITY INDEX,INDEX,...

It writes one JSON object per line to stdout: for `probe` a single {"ok": ...} line; for
`extract` {"meta": ...}, then {"frame": index, "file": name, ...} per written frame,
{"progress": fraction} now and then, and finally {"done": ...} or {"error": message}.
Frames are counted by reading them; the container's frame count is only a progress hint,
so the limits (frames, seconds, width and height; 0 = none) are checked on what is decoded.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

ENCODE_THREADS = 2
MAX_IN_FLIGHT = 6  # decoded frames waiting for encoding (720p: about 2.7 MB each)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _fps(capture) -> float | None:
    import cv2

    fps = capture.get(cv2.CAP_PROP_FPS)
    if not fps or math.isnan(fps) or fps <= 0 or fps > 1000:
        return None
    return float(fps)


def _open(path: str):
    import cv2

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        return None
    return capture


def probe(path: str) -> int:
    """Open the video and decode its first frame: enough to refuse what cannot be read."""
    import cv2

    capture = _open(path)
    if capture is None:
        _emit({"ok": False, "error": "OpenCV cannot open this video (unknown or damaged format)."})
        return 0
    ok, frame = capture.read()
    if not ok or frame is None:
        _emit({"ok": False, "error": "The video contains no frames that can be decoded."})
        return 0
    claimed = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    _emit(
        {
            "ok": True,
            "width": int(frame.shape[1]),
            "height": int(frame.shape[0]),
            "fps": _fps(capture),
            "claimed_frames": int(claimed) if claimed and claimed > 0 else None,
        }
    )
    return 0


def _over_limit(index: int, timestamp: float, width: int, height: int, limits) -> str | None:
    max_frames, max_seconds, max_width, max_height = limits
    if max_frames and index >= max_frames:
        return f"The video has more than {max_frames} frames, the limit."
    if max_seconds and timestamp > max_seconds:
        return f"The video is longer than the limit of {max_seconds:g} seconds."
    if (max_width and width > max_width) or (max_height and height > max_height):
        return f"Frame {index} is {width}x{height} pixels; the limit is {max_width}x{max_height}."
    return None


def extract(path: str, outdir: str, stride: int, quality: int, limits=(0, 0.0, 0, 0)) -> int:
    """Decode every frame; write every `stride`-th one as a JPEG file into `outdir`.

    Decoding stays on this thread; JPEG encoding and writing run on a small thread pool
    (OpenCV releases the GIL), so decode and encode overlap. Frames are announced in order.
    """
    import cv2

    capture = _open(path)
    if capture is None:
        _emit({"error": "OpenCV cannot open this video (unknown or damaged format)."})
        return 2
    fps = _fps(capture)
    claimed = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    claimed = int(claimed) if claimed and claimed > 0 else None
    _emit({"meta": {"fps": fps, "claimed_frames": claimed}})
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]

    def encode_and_write(index: int, frame, timestamp: float) -> dict:
        ok, encoded = cv2.imencode(".jpg", frame, params)
        if not ok:
            return {"error": f"Frame {index} could not be encoded as JPEG."}
        name = f"{index:08d}.jpg"
        with open(os.path.join(outdir, name), "wb") as handle:
            handle.write(encoded.data)
        height, width = frame.shape[:2]
        return {"frame": index, "file": name, "t": timestamp, "w": width, "h": height}

    pending: deque = deque()

    def announce(limit: int) -> bool:
        while len(pending) > limit:
            event = pending.popleft().result()
            _emit(event)
            if "error" in event:
                return False
        return True

    index = 0
    written = 0
    width = height = None
    last_report = time.monotonic()
    with ThreadPoolExecutor(max_workers=ENCODE_THREADS) as pool:
        while True:
            if index % stride == 0:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                height, width = frame.shape[:2]
                timestamp = index / fps if fps else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                refused = _over_limit(index, timestamp, width, height, limits)
                if refused:
                    announce(0)
                    _emit({"error": refused})
                    return 2
                pending.append(pool.submit(encode_and_write, index, frame, timestamp))
                written += 1
                if not announce(MAX_IN_FLIGHT):
                    return 2
            elif not capture.grab():
                break
            else:
                timestamp = index / fps if fps else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                refused = _over_limit(index, timestamp, 0, 0, limits)
                if refused:
                    announce(0)
                    _emit({"error": refused})
                    return 2
            index += 1
            now = time.monotonic()
            if claimed and now - last_report > 0.5:
                last_report = now
                _emit({"progress": min(index / claimed, 0.99)})
        if not announce(0):
            return 2
    if index == 0:
        _emit({"error": "The video contains no frames that can be decoded."})
        return 2
    _emit({"done": True, "frames": index, "written": written, "fps": fps, "w": width, "h": height})
    return 0


def frames(path: str, outdir: str, quality: int, wanted: list[int]) -> int:
    """Decode the video up to the last wanted frame and write only the wanted ones (frames
    an import annotates off the project's stride): {"frame": ...} per frame, then {"done"}."""
    import cv2

    capture = _open(path)
    if capture is None:
        _emit({"error": "OpenCV cannot open this video (unknown or damaged format)."})
        return 2
    fps = _fps(capture)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    todo = sorted(set(wanted))
    index = 0
    for target in todo:
        while index < target:
            if not capture.grab():
                _emit({"done": True, "frames": index})
                return 0
            index += 1
        ok, frame = capture.read()
        if not ok or frame is None:
            break
        timestamp = index / fps if fps else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        ok, encoded = cv2.imencode(".jpg", frame, params)
        if not ok:
            _emit({"error": f"Frame {index} could not be encoded as JPEG."})
            return 2
        name = f"{index:08d}.jpg"
        with open(os.path.join(outdir, name), "wb") as handle:
            handle.write(encoded.data)
        height, width = frame.shape[:2]
        _emit({"frame": index, "file": name, "t": timestamp, "w": width, "h": height})
        index += 1
    _emit({"done": True, "frames": index})
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "probe":
        return probe(argv[1])
    if len(argv) in (5, 9) and argv[0] == "extract":
        limits = (0, 0.0, 0, 0)
        if len(argv) == 9:
            limits = (int(argv[5]), float(argv[6]), int(argv[7]), int(argv[8]))
        return extract(argv[1], argv[2], int(argv[3]), int(argv[4]), limits)
    if len(argv) == 5 and argv[0] == "frames":
        wanted = [int(i) for i in argv[4].split(",") if i]
        return frames(argv[1], argv[2], int(argv[3]), wanted)
    sys.stderr.write(__doc__ or "")
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
