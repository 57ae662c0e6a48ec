"""The overlay video: the input video with the 2D skeleton and a running repetition counter.

:func:`write_overlay` decodes the video upright (:func:`flag3d.video.iter_frames`),
draws the image-space pose of each frame (linearly interpolated between the analysed
frames, which may be fewer than the video's, e.g. 15 of 30 per second) with OpenCV, and a
box with the number of repetitions finished so far, the repetition in progress and the
verdict of the last finished one (all standards met or not), then encodes ``overlay.mp4``
with PyAV (H.264 when FFmpeg has it, else MPEG-4 Part 2).  Joints with confidence below
``min_confidence`` and frames without the person are not drawn.

When the input is not a video (a skeleton file, the demo) or there is no 2D pose, nothing
is written: the function returns ``None`` and adds a note to ``result["warnings"]``.

Example:
    >>> from flag3d.report.overlay import repetition_state
    >>> reps = [{"index": 0, "start_s": 1.0, "end_s": 2.0}, {"index": 1, "start_s": 2.0, "end_s": 3.5}]
    >>> repetition_state(reps, 2.5), repetition_state(reps, 4.0)
    ((1, 1), (2, -1))
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence as Seq, Tuple

import numpy as np

from flag3d.errors import Flag3dError
from flag3d.skeleton.sequence import Sequence

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
OVERLAY_NAME = "overlay.mp4"
#: RGB colours of the left side, right side and centre line.
RGB = {"left": (31, 119, 180), "right": (214, 39, 40), "centre": (255, 255, 255)}


def repetition_state(reps: Seq[Dict[str, Any]], t: float) -> Tuple[int, int]:
    """``(finished, current)`` at time ``t``: repetitions ended by ``t`` and the index of the
    one in progress (``-1`` when none)."""
    done, current = 0, -1
    for r in reps:
        a, b = float(r["start_s"]), float(r["end_s"])
        if b <= t + 1e-9:
            done += 1
        elif a <= t:
            current = int(r.get("index", 0))
    return done, current


def _skip(result: Dict[str, Any], why: str) -> None:
    result.setdefault("warnings", []).append(f"overlay video not written: {why}")


def _edges(pose: Sequence) -> List[Tuple[int, int, Tuple[int, int, int]]]:
    lay = pose.layout_info
    out = []
    for a, b in tuple(lay.edges) + tuple(lay.extra_edges):
        names = lay.joints[a] + " " + lay.joints[b]
        left, right = "left_" in names, "right_" in names
        side = "left" if left and not right else "right" if right and not left else "centre"
        out.append((a, b, RGB[side]))
    return out


def _pose_at(pose_t: np.ndarray, joints: np.ndarray, conf: np.ndarray, t: float,
             max_gap: float) -> Tuple[np.ndarray, np.ndarray]:
    """Joints and confidence at time ``t``, interpolated between the two nearest frames."""
    i = int(np.searchsorted(pose_t, t))
    if i <= 0:
        k = 0
    elif i >= len(pose_t):
        k = len(pose_t) - 1
    else:
        a, b = i - 1, i
        span = pose_t[b] - pose_t[a]
        if span <= max_gap and span > 0:
            w = (t - pose_t[a]) / span
            c = np.minimum(conf[a], conf[b])
            return joints[a] * (1 - w) + joints[b] * w, c
        k = a if t - pose_t[a] <= pose_t[b] - t else b
    if abs(pose_t[k] - t) > max_gap:
        return joints[k], np.zeros_like(conf[k])
    return joints[k], conf[k]


def _draw(cv2: Any, img: np.ndarray, pts: np.ndarray, conf: np.ndarray,
          edges: List[Tuple[int, int, Tuple[int, int, int]]], min_conf: float) -> None:
    h, w = img.shape[:2]
    thick = max(2, int(round(max(h, w) / 260)))
    ok = conf >= min_conf
    p = np.round(pts).astype(np.int32)
    for a, b, colour in edges:
        if ok[a] and ok[b]:
            cv2.line(img, (int(p[a, 0]), int(p[a, 1])), (int(p[b, 0]), int(p[b, 1])), colour,
                     thick, cv2.LINE_AA)
    for k in np.flatnonzero(ok):
        cv2.circle(img, (int(p[k, 0]), int(p[k, 1])), thick + 1, (255, 220, 0), -1, cv2.LINE_AA)


def _draw_counter(cv2: Any, img: np.ndarray, done: int, total: int, current: int,
                  verdict: Optional[bool]) -> None:
    h, w = img.shape[:2]
    scale = max(0.5, max(h, w) / 900.0)
    lines = [f"reps: {done}"]
    lines.append(f"rep {current + 1} ..." if current >= 0 else f"of {total}")
    if verdict is not None:
        lines.append("last: all standards met" if verdict else "last: missed a standard")
    y = int(34 * scale)
    box_h = int((18 + 30 * len(lines)) * scale)
    cv2.rectangle(img, (0, 0), (int(330 * scale), box_h), (0, 0, 0), -1)
    for k, text in enumerate(lines):
        colour = (255, 255, 255)
        if k == 2:
            colour = (80, 220, 80) if verdict else (255, 90, 90)
        cv2.putText(img, text, (int(10 * scale), y), cv2.FONT_HERSHEY_SIMPLEX,
                    0.9 * scale if k == 0 else 0.65 * scale, colour, max(1, int(2 * scale)),
                    cv2.LINE_AA)
        y += int(30 * scale)


def _open_output(av: Any, path: Path, width: int, height: int, fps: float) -> Tuple[Any, Any]:
    container = av.open(str(path), mode="w")
    rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if codec == "libx264":
        stream.options = {"preset": "veryfast", "crf": "23"}
    else:
        stream.bit_rate = 4_000_000
    return container, stream


def write_overlay(video_path: Path, pose2d: Optional[Sequence], result: Dict[str, Any],
                  out_dir: Path, max_side: int = 720, min_confidence: float = 0.3) -> Optional[Path]:
    """Write ``out_dir/overlay.mp4`` (see the module docstring); ``None`` when skipped.

    Args:
        video_path: the analysed video.
        pose2d: its image-space pose (pixels of the upright frame, ``meta["img_shape"]``),
            with ``times`` in seconds from the first frame.
        result: the ``result.json`` dict (repetitions, quality); a skip adds a warning.
        out_dir: output folder.
        max_side: downscale so the longer side is at most this (``None``: full size).
        min_confidence: joints below this confidence are not drawn.
    """
    video_path = Path(video_path)
    if video_path.suffix.lower() not in VIDEO_SUFFIXES:
        _skip(result, f"the input {video_path.name} is not a video")
        return None
    if pose2d is None or pose2d.dims != 2:
        _skip(result, "there is no 2D pose of the video")
        return None
    try:
        from flag3d.video import iter_frames, probe_video
        from flag3d.video.deps import require, require_av

        av = require_av()
        cv2 = require("cv2", "the overlay video")
        info = probe_video(video_path)
    except Flag3dError as err:
        _skip(result, err.problem)
        return None
    pose = pose2d.person(0) if pose2d.has_persons else pose2d
    pose_t = pose.frame_times() - pose.frame_times()[0]
    conf = pose.confidence if pose.confidence is not None else np.ones(pose.joints.shape[:2], np.float32)
    img_shape = pose.meta.get("img_shape") or [info.height, info.width]
    max_gap = 2.5 / pose.fps
    edges = _edges(pose)
    reps = (result.get("counting") or {}).get("repetitions") or []
    q = result.get("quality") or {}
    verdicts = {r.get("index"): bool(r.get("ok")) for r in (q.get("repetitions") or [])} \
        if q.get("assessable") else {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / OVERLAY_NAME
    container = stream = None
    try:
        for frame in iter_frames(video_path, max_side=max_side, info=info):
            img = np.ascontiguousarray(frame.image)
            h, w = img.shape[:2]
            if container is None:
                container, stream = _open_output(av, path, w - w % 2, h - h % 2, info.fps)
            sx, sy = w / float(img_shape[1]), h / float(img_shape[0])
            pts, c = _pose_at(pose_t, pose.joints, conf, frame.time, max_gap)
            _draw(cv2, img, pts * np.array([sx, sy], np.float32), c, edges, min_confidence)
            done, current = repetition_state(reps, frame.time)
            verdict = verdicts.get(done - 1) if done else None
            _draw_counter(cv2, img, done, len(reps), current, verdict)
            img = np.ascontiguousarray(img[: h - h % 2, : w - w % 2])
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        if container is not None:
            for packet in stream.encode():
                container.mux(packet)
    finally:
        if container is not None:
            container.close()
    if container is None:
        _skip(result, "no frame could be decoded")
        return None
    return path
