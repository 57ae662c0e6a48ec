"""Notice when the pose detector jumps from one person to another.

MediaPipe's pose solution follows one person, but when it loses them it runs the detector
again and may lock on to somebody else.  :func:`assign_tracks` splits the detections into
tracks by continuity of the torso: consecutive detections belong to the same track when
the torso centre (mid-point of hips and shoulders, image pixels) moves less than
``max_step + max_speed * dt`` torso lengths and the torso length changes by less than a
factor ``max_scale`` (``dt`` is the time between the two detections).  A detection that
breaks continuity is matched to the nearest earlier track it is continuous with (the same
person coming back), else it starts a new track.  :func:`main_track` is the track with the
most frames: the person the video is about.

Defaults (for pose at 15 fps): ``max_step = 0.75``, ``max_speed = 3.0`` torso lengths per
second, ``max_scale = 1.5``.  A squat jump moves the hips by about 0.4 torso lengths between
two frames at 15 fps, well inside; a second person a body width away is outside.

Example:
    >>> import numpy as np
    >>> from flag3d.video.track import assign_tracks, main_track
    >>> centres = np.array([[100, 200], [102, 201], [400, 200], [103, 202]], float)
    >>> ids = assign_tracks(centres, np.full(4, 50.0), np.ones(4, bool), np.arange(4) / 15)
    >>> ids.tolist(), main_track(ids)
    ([0, 0, 1, 0], 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np


@dataclass
class _Track:
    centre: np.ndarray
    size: float
    time: float


def _continuous(tr: _Track, centre: np.ndarray, size: float, time: float,
                max_step: float, max_speed: float, max_scale: float) -> Tuple[bool, float]:
    """Whether a detection continues track ``tr``, and its distance in torso lengths."""
    ref = max(tr.size, size, 1e-6)
    dist = float(np.linalg.norm(centre - tr.centre)) / ref
    ratio = max(size, 1e-6) / max(tr.size, 1e-6)
    ok = dist <= max_step + max_speed * max(time - tr.time, 0.0) and \
        1.0 / max_scale <= ratio <= max_scale
    return ok, dist


def assign_tracks(centres: np.ndarray, sizes: np.ndarray, present: np.ndarray,
                  times: np.ndarray, max_step: float = 0.75, max_speed: float = 3.0,
                  max_scale: float = 1.5) -> np.ndarray:
    """Track id per frame (``-1`` where nobody was detected).

    Args:
        centres: ``(T, 2)`` torso centre per frame (pixels).
        sizes: ``(T,)`` torso length per frame (pixels, > 0 where present).
        present: ``(T,)`` bool, a detection in that frame.
        times: ``(T,)`` frame times in seconds.
    """
    ids = np.full(len(present), -1, dtype=np.int64)
    tracks: List[_Track] = []
    cur = -1
    for i in np.flatnonzero(present):
        c, s, t = np.asarray(centres[i], float), float(sizes[i]), float(times[i])
        args = (c, s, t, max_step, max_speed, max_scale)
        if cur >= 0 and _continuous(tracks[cur], *args)[0]:
            k = cur
        else:
            best, k = np.inf, -1
            for j, tr in enumerate(tracks):
                ok, dist = _continuous(tr, *args)
                if ok and dist < best:
                    best, k = dist, j
            if k < 0:
                tracks.append(_Track(c, s, t))
                k = len(tracks) - 1
        tracks[k] = _Track(c, s, t)
        ids[i] = k
        cur = k
    return ids


def main_track(ids: np.ndarray) -> int:
    """The track with the most frames (``-1`` when there is none)."""
    ids = np.asarray(ids)
    valid = ids[ids >= 0]
    if len(valid) == 0:
        return -1
    return int(np.bincount(valid).argmax())


def switch_frames(ids: np.ndarray) -> List[int]:
    """Frames where the detection belongs to a different track than the previous one."""
    ids = np.asarray(ids)
    idx = np.flatnonzero(ids >= 0)
    return [int(b) for a, b in zip(idx[:-1], idx[1:]) if ids[a] != ids[b]]
