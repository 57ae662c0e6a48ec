"""Pose from video: decode a phone video and track the person's 2D and 3D pose in it.

Needs the optional ``video`` extra (PyAV and MediaPipe): ``pip install -e '.[video]'``.
This package imports without them; the functions that need them raise a one-line
:class:`~flag3d.video.deps.MissingDependencyError` saying so.

* :func:`probe_video` -> :class:`VideoInfo`: cheap checks and facts (fps, frames, size,
  rotation); every bad file fails here with a :class:`~flag3d.errors.FormatError`.
* :func:`iter_frames`: upright RGB frames, optionally thinned to a target rate.
* :func:`extract_pose` -> :class:`PoseResult`: ``blazepose33`` 2D (px) and world 3D (m,
  y up) sequences with confidence, frame times and a per-frame person mask.

Example:
    >>> import flag3d.video as video
    >>> video.DEFAULT_TARGET_FPS
    15.0
    >>> res = video.extract_pose("../shared/data/videos/barbell-squat-side.mp4")  # doctest: +SKIP
    >>> res.convert("flag3d24").joints.shape  # doctest: +SKIP
    (307, 24, 3)
"""

from __future__ import annotations

from flag3d.video.decode import Frame, VideoInfo, iter_frames, probe_video, select_frames
from flag3d.video.deps import MissingDependencyError
from flag3d.video.pose import PoseResult, extract_pose
from flag3d.video.smooth import OneEuroParams, smooth_joints

#: The analysis rate ``extract_pose`` uses by default (frames per second).
DEFAULT_TARGET_FPS = 15.0

__all__ = [
    "DEFAULT_TARGET_FPS", "Frame", "MissingDependencyError", "OneEuroParams", "PoseResult",
    "VideoInfo", "extract_pose", "iter_frames", "probe_video", "select_frames",
    "smooth_joints",
]
