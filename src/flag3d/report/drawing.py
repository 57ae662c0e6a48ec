"""Skeleton drawings for the report: a 2D view of a sequence, key-frame SVGs, animation data.

:func:`view_2d` turns a sequence into screen coordinates (x right, y down) in a fixed box:

* a 2D sequence (image pixels or normalised image coordinates) is drawn as the camera saw it;
* a 3D sequence (metres, y up) is drawn from the side that shows the motion best: the
  vertical axis is y and the horizontal axis is the horizontal direction along which the
  joints move most over time (so squats are seen from the side and lateral raises from the
  front).

Joints with confidence 0 are *missing*: they and their edges are not drawn.  Edges are the
layout's tree (:attr:`flag3d.skeleton.Layout.edges`) plus its drawing-only ``extra_edges``.

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.report.drawing import view_2d, skeleton_svg
    >>> seq = Sequence(np.random.default_rng(0).normal(size=(5, 17, 2)) * 50 + 200, "coco17")
    >>> v = view_2d(seq, width=80, height=100)
    >>> v.points.shape, bool((v.points[v.visible] >= 0).all())
    ((5, 17, 2), True)
    >>> skeleton_svg(v, 0).startswith("<svg")
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence as Seq, Tuple

import numpy as np

from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence

#: Stroke colours: left side, right side, centre line.
COLOURS = {"left": "#1f77b4", "right": "#d62728", "centre": "#444444"}


@dataclass
class View2D:
    """A sequence in screen coordinates.

    Attributes:
        points: ``(T, V, 2)`` x right, y down, inside ``[0, width] x [0, height]``.
        visible: ``(T, V)`` bool, False for missing joints.
        edges: ``(child, parent)`` joint index pairs to draw.
        sides: per edge ``"left"``, ``"right"`` or ``"centre"`` (for the colour).
        times: ``(T,)`` seconds.
        width, height: the box.
        source: how the view was made (for the caption).
    """

    points: np.ndarray
    visible: np.ndarray
    edges: Tuple[Tuple[int, int], ...]
    sides: Tuple[str, ...]
    times: np.ndarray
    width: float
    height: float
    source: str


def _edges(layout: str) -> Tuple[Tuple[Tuple[int, int], ...], Tuple[str, ...]]:
    lay = get_layout(layout)
    edges = tuple(lay.edges) + tuple(lay.extra_edges)
    sides = []
    for a, b in edges:
        names = lay.joints[a] + " " + lay.joints[b]
        left, right = "left_" in names, "right_" in names
        sides.append("left" if left and not right else "right" if right and not left else "centre")
    return edges, tuple(sides)


def _horizontal_axis(joints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Unit (x, z) direction along which the (visible) joints move most over time."""
    xz = joints[..., [0, 2]].astype(np.float64)
    w = visible[..., None].astype(np.float64)
    mean = (xz * w).sum(axis=0, keepdims=True) / np.maximum(w.sum(axis=0, keepdims=True), 1.0)
    motion = (xz - mean) * w
    cov = np.einsum("tvi,tvj->ij", motion, motion)
    if not np.isfinite(cov).all() or np.trace(cov) <= 1e-12:
        return np.array([1.0, 0.0])
    w, vec = np.linalg.eigh(cov)
    axis = vec[:, int(np.argmax(w))]
    # Keep the viewer on a stable side: the axis points to +x, or to +z when along z.
    if (abs(axis[0]) >= abs(axis[1]) and axis[0] < 0) or (abs(axis[0]) < abs(axis[1]) and axis[1] < 0):
        axis = -axis
    return axis


def view_2d(seq: Sequence, width: float = 120.0, height: float = 160.0, margin: float = 6.0) -> View2D:
    """Screen coordinates of ``seq`` (person 0) in a ``width x height`` box (module docstring)."""
    s = seq.person(0) if seq.has_persons else seq
    j = s.joints
    visible = np.ones(j.shape[:2], dtype=bool) if s.confidence is None else s.confidence > 0
    if s.dims == 3:
        axis = _horizontal_axis(j, visible)
        xy = np.stack([j[..., 0] * axis[0] + j[..., 2] * axis[1], -j[..., 1]], axis=-1)
        src = "3D joints seen from the side that shows the motion best"
    else:
        xy = j.astype(np.float64)
        src = "2D keypoints as the camera saw them"
    if visible.any():
        pts = xy[visible]
        lo = np.percentile(pts, 0.5, axis=0)
        hi = np.percentile(pts, 99.5, axis=0)
    else:
        lo, hi = np.zeros(2), np.ones(2)
    span = np.maximum(hi - lo, 1e-6)
    scale = min((width - 2 * margin) / span[0], (height - 2 * margin) / span[1])
    offset = np.array([width, height]) / 2.0 - (lo + hi) / 2.0 * scale
    screen = xy * scale + offset
    screen[..., 0] = np.clip(screen[..., 0], 0.0, width)
    screen[..., 1] = np.clip(screen[..., 1], 0.0, height)
    edges, sides = _edges(s.layout)
    times = s.frame_times()
    return View2D(screen.astype(np.float32), visible, edges, sides, times - times[0],
                  float(width), float(height), src)


def skeleton_svg(view: View2D, frame: int, label: str = "", css_class: str = "pose") -> str:
    """One frame as a small inline ``<svg>`` (label drawn at the bottom, already escaped)."""
    p, vis = view.points[frame], view.visible[frame]
    parts: List[str] = [
        f'<svg class="{css_class}" viewBox="0 0 {view.width:g} {view.height:g}" '
        f'width="{view.width:g}" height="{view.height:g}" role="img">'
    ]
    for (a, b), side in zip(view.edges, view.sides):
        if vis[a] and vis[b]:
            parts.append(f'<line x1="{p[a, 0]:.1f}" y1="{p[a, 1]:.1f}" x2="{p[b, 0]:.1f}" '
                         f'y2="{p[b, 1]:.1f}" stroke="{COLOURS[side]}"/>')
    if label:
        parts.append(f'<text x="{view.width / 2:g}" y="{view.height - 2:g}" '
                     f'text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def animation_data(view: View2D, max_fps: float = 15.0, max_frames: int = 1200) -> dict:
    """Compact JSON-ready frames for the report's player.

    Coordinates are tenths of a box unit as integers, ``-1`` for a missing joint; frames are
    thinned to at most ``max_fps`` and ``max_frames``.
    """
    t = view.times
    n = len(t)
    duration = float(t[-1]) if n > 1 else 0.0
    keep = n
    if duration > 0:
        keep = min(n, int(duration * max_fps) + 1)
    keep = max(1, min(keep, max_frames))
    idx = np.unique(np.linspace(0, n - 1, keep).round().astype(np.int64))
    pts = np.round(view.points[idx] * 10.0).astype(np.int32)
    pts[~view.visible[idx]] = -1
    return {
        "w": view.width, "h": view.height,
        "t": [round(float(x), 3) for x in t[idx]],
        "p": pts.reshape(len(idx), -1).tolist(),
        "e": [list(e) for e in view.edges],
        "c": [COLOURS[s] for s in view.sides],
    }


def key_frames(num_frames: int, repetitions: Seq[Tuple[int, int]],
               signal: Optional[np.ndarray] = None, max_reps: int = 12) -> List[Tuple[int, str]]:
    """``(frame, role)`` to draw: start, extreme and end of each repetition.

    The middle frame is where the signal is farthest from its value at the start (the
    bottom of a squat), or the midpoint without a signal.  With no repetition: three frames
    at a quarter, half and three quarters of the recording.
    """
    last = max(num_frames - 1, 0)
    if not len(repetitions):
        return [(int(round(f * last)), r) for f, r in ((0.25, "25 %"), (0.5, "50 %"), (0.75, "75 %"))]
    out: List[Tuple[int, str]] = []
    for a, b in list(repetitions)[:max_reps]:
        a, e = int(np.clip(a, 0, last)), int(np.clip(b - 1, 0, last))
        mid = (a + e) // 2
        if signal is not None and len(signal) == num_frames and e > a:
            seg = np.asarray(signal[a:e + 1], dtype=np.float64)
            mid = a + int(np.argmax(np.abs(seg - seg[0])))
        out.extend([(a, "start"), (mid, "middle"), (e, "end")])
    return out
