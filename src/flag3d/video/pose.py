"""Pose from a video file: 2D and world 3D BlazePose landmarks of the person in it.

:func:`extract_pose` probes the file (bad files fail here, in milliseconds; see
:mod:`flag3d.video.decode`), decodes the frames kept at ``target_fps`` in a background
thread, runs MediaPipe's pose tracker on each (:mod:`flag3d.video.mediapipe_pose`), keeps
the one person the video is about (:mod:`flag3d.video.track`), smooths over time
(:mod:`flag3d.video.smooth`) and returns a :class:`PoseResult` with two sequences in the
``blazepose33`` layout, one per analysed frame, with ``Sequence.times`` the frame times
(seconds from the first frame):

* ``pose2d``: image pixels of the upright frame (x right, y down, origin top-left),
  ``meta["units"] = "px"``, ``meta["img_shape"] = [height, width]``;
* ``pose3d``: MediaPipe world landmarks in metres, origin at the mid-point of the hips,
  **x to the image's right, y up, z towards the camera** (right-handed), ``units = "m"``.

Confidence is MediaPipe's per-landmark visibility.  **Frames without the person are
marked, not invented**: their joints are 0 with confidence 0 and ``meta["person_present"]``
is False there.  Detections of someone else (a switch of the tracker to another person) are
dropped the same way and listed in ``meta["other_person"]`` / ``meta["track_switches"]``.
Runs of missing frames shorter than ``fill_gap`` seconds are interpolated, with half the
neighbours' confidence, and marked in ``meta["interpolated"]``.  A video in which nobody is
found raises :class:`~flag3d.errors.FormatError` ("no person found").

Both sequences convert to the other layouts: ``result.convert("flag3d24")`` (3D),
``result.convert("coco17", space="2d")``, ``"h36m17"``.

Example:
    >>> from flag3d.video import extract_pose
    >>> res = extract_pose("../shared/data/videos/barbell-squat-side.mp4")  # doctest: +SKIP
    >>> res.pose3d.layout, res.pose3d.num_frames, round(res.present_fraction, 2)  # doctest: +SKIP
    ('blazepose33', 307, 1.0)
"""

from __future__ import annotations

import copy
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from flag3d.errors import FormatError
from flag3d.skeleton.convert import convert
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence
from flag3d.video.decode import Frame, VideoInfo, iter_frames, prefetch, probe_video, \
    select_frames
from flag3d.video.mediapipe_pose import MODEL_NAME, MediaPipePose
from flag3d.video.smooth import OneEuroParams, fill_gaps, smooth_joints
from flag3d.video.track import assign_tracks, main_track, switch_frames

PathLike = Union[str, "os.PathLike[str]"]
#: ``progress(done, total)``: analysed frames done so far, of ``total``.
ProgressFn = Callable[[int, int], None]

LAYOUT = "blazepose33"
_LAY = get_layout(LAYOUT)
_HIPS = _LAY.indices(["left_hip", "right_hip"])
_SHOULDERS = _LAY.indices(["left_shoulder", "right_shoulder"])
FRAME_2D = "image pixels of the upright frame: x right, y down, origin top-left"
FRAME_3D = ("MediaPipe world landmarks: metres, origin mid-hip, x image-right, y up, "
            "z towards the camera (right-handed)")


@dataclass
class PoseResult:
    """Pose of the person in one video (see the module docstring for the frames).

    Attributes:
        pose2d: ``blazepose33`` image pixels, one frame per analysed video frame.
        pose3d: ``blazepose33`` world landmarks in metres (y up), same frames.
        info: what :func:`~flag3d.video.decode.probe_video` found.
        person_present: bool per frame, the tracked person was detected.
        interpolated: bool per frame, filled by interpolation (not detected).
        other_person: bool per frame, a different person was detected and dropped.
        track_switches: frames where the detector jumped to another track.
        timings: seconds spent: ``probe``, ``decode`` and ``pose`` (thread time summed
            over the workers; decoding runs in its own threads, overlapping the pose),
            ``post`` (tracks + smoothing) and ``total`` (wall clock).
    """

    pose2d: Sequence
    pose3d: Sequence
    info: VideoInfo
    person_present: np.ndarray
    interpolated: np.ndarray
    other_person: np.ndarray
    track_switches: List[int] = field(default_factory=list)
    timings: Dict[str, float] = field(default_factory=dict)

    @property
    def times(self) -> np.ndarray:
        """Time (s from the first frame) of each analysed frame."""
        return self.pose3d.frame_times()

    @property
    def present_fraction(self) -> float:
        """Share of analysed frames in which the tracked person was detected."""
        return float(np.mean(self.person_present))

    def convert(self, layout: str, space: str = "3d") -> Sequence:
        """The 3D (``space="3d"``) or 2D (``"2d"``) pose converted to ``layout``."""
        if space not in ("2d", "3d"):
            raise ValueError(f"space must be '2d' or '3d', got {space!r}")
        return convert(self.pose3d if space == "3d" else self.pose2d, layout)


def _torso(joints: np.ndarray) -> tuple:
    """Torso centre and length per frame of ``(T, 33, C)`` joints."""
    hip = joints[:, _HIPS].mean(axis=1)
    sh = joints[:, _SHOULDERS].mean(axis=1)
    return 0.5 * (hip + sh), np.linalg.norm(sh - hip, axis=-1)


def _breaks(ids: np.ndarray, keep: int) -> np.ndarray:
    """True at frames of track ``keep`` whose previous detection was another track."""
    out = np.zeros(len(ids), dtype=bool)
    idx = np.flatnonzero(ids >= 0)
    for a, b in zip(idx[:-1], idx[1:]):
        out[b] = ids[b] == keep and ids[a] != keep
    return out


def _median_scale(sizes: np.ndarray, used: np.ndarray) -> float:
    vals = sizes[used]
    vals = vals[np.isfinite(vals) & (vals > 0)]
    return float(np.median(vals)) if len(vals) else 1.0


def _chunks(kept: np.ndarray, workers: int) -> List[Tuple[int, int]]:
    """Split the kept frame indices into ``workers`` contiguous ``[start, stop)`` ranges."""
    parts = [c for c in np.array_split(kept, max(1, workers)) if len(c)]
    return [(int(c[0]), int(c[-1]) + 1) for c in parts]


def _auto_workers(workers: Optional[int], n_frames: int, info: VideoInfo) -> int:
    if workers is None:  # two pose graphs fill two cores; short clips are not worth it
        workers = min(2, os.cpu_count() or 1) if n_frames >= 60 else 1
    return max(1, int(workers)) if info.timestamps else 1


class _Worker(threading.Thread):
    """Decodes one range of frames (in its own prefetch thread) and runs a pose graph on it."""

    def __init__(self, path: Path, info: VideoInfo, target_fps: Optional[float],
                 max_side: Optional[int], span: Tuple[int, int], estimator: MediaPipePose,
                 out: Dict[str, np.ndarray], pos: np.ndarray, counter: List[int],
                 lock: threading.Lock, stop: threading.Event) -> None:
        super().__init__(name=f"flag3d-pose-{span[0]}", daemon=True)
        self.args = (path, info, target_fps, max_side, span)
        self.estimator, self.out, self.pos = estimator, out, pos
        self.counter, self.lock, self.stop = counter, lock, stop
        self.error: Optional[BaseException] = None
        self.decode_s = self.pose_s = 0.0

    def _frames(self) -> Iterator[Frame]:
        path, info, target_fps, max_side, (start, stop) = self.args
        it = iter_frames(path, target_fps, max_side=max_side, info=info, start=start, stop=stop)
        while True:
            t0 = time.perf_counter()
            try:
                fr = next(it)
            except StopIteration:
                return
            finally:
                self.decode_s += time.perf_counter() - t0
            yield fr

    def run(self) -> None:
        frames = prefetch(self._frames())
        try:
            for fr in frames:
                if self.stop.is_set():
                    break
                t0 = time.perf_counter()
                lm = self.estimator.process(fr.image)
                self.pose_s += time.perf_counter() - t0
                k = int(self.pos[fr.index])
                if k >= 0:
                    self.out["time"][k] = fr.time
                    self.out["seen"][k] = True
                    if lm is not None:
                        self.out["img"][k], self.out["world"][k] = lm.image, lm.world
                        self.out["vis"][k], self.out["present"][k] = lm.visibility, True
                with self.lock:
                    self.counter[0] += 1
        except BaseException as err:  # handed to the main thread
            self.error = err
            self.stop.set()
        finally:
            frames.close()


def _run_pose(path: Path, info: VideoInfo, target_fps: Optional[float], max_side: Optional[int],
              progress: Optional[ProgressFn], workers: int, det: float, trk: float
              ) -> Dict[str, Any]:
    kept = select_frames(info.frame_times, target_fps)
    total = len(kept)
    pos = np.full(info.num_frames, -1, dtype=np.int64)
    pos[kept] = np.arange(total)
    v = _LAY.num_joints
    out = {"img": np.zeros((total, v, 2), np.float32), "world": np.zeros((total, v, 3), np.float32),
           "vis": np.zeros((total, v), np.float32), "present": np.zeros(total, bool),
           "seen": np.zeros(total, bool), "time": np.zeros(total, np.float64)}
    counter, lock, stop = [0], threading.Lock(), threading.Event()
    estimators = [MediaPipePose(det, trk) for _ in _chunks(kept, workers)]
    threads = [_Worker(path, info, target_fps, max_side, span, est, out, pos, counter, lock, stop)
               for span, est in zip(_chunks(kept, workers), estimators)]
    try:
        for th in threads:
            th.start()
        shown = -1
        while True:
            alive = [th for th in threads if th.is_alive()]
            if alive:
                alive[0].join(timeout=0.05)
            if progress is not None and counter[0] != shown:
                shown = counter[0]
                progress(shown, total)
            if not alive:
                break
    finally:
        stop.set()
        for th in threads:
            th.join()
        for est in estimators:
            est.close()
    for th in threads:
        if th.error is not None:
            raise th.error
    seen = out["seen"]  # frames lost to corrupt packets are left out
    img = out["img"][seen]
    img[:, :, 0] *= info.width
    img[:, :, 1] *= info.height
    return dict(img=img, world=out["world"][seen], vis=out["vis"][seen],
                present=out["present"][seen], index=kept[seen].tolist(), times=out["time"][seen],
                decode_s=sum(th.decode_s for th in threads),
                pose_s=sum(th.pose_s for th in threads))


def extract_pose(
    path: PathLike,
    target_fps: Optional[float] = 15.0,
    smooth: bool = True,
    progress: Optional[ProgressFn] = None,
    *,
    max_side: Optional[int] = 640,
    fill_gap: float = 0.25,
    one_euro: OneEuroParams = OneEuroParams(),
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    workers: Optional[int] = None,
    info: Optional[VideoInfo] = None,
) -> PoseResult:
    """2D and world 3D pose of the person in the video ``path``.

    Args:
        path: an mp4/mov/avi/webm/mkv video.
        target_fps: analyse about this many frames per second (``None``: every frame).
        smooth: apply zero-phase One Euro smoothing (:mod:`flag3d.video.smooth`).
        progress: called as ``progress(done, total)`` (analysed frames) from the calling
            thread whenever frames were done, at most every 50 ms.
        max_side: downscale frames for the pose model so the longer side is at most this
            many pixels (coordinates are still in the original frame's pixels).
        fill_gap: interpolate (and mark) gaps whose bounding detections are at most this
            many seconds apart; 0 disables.
        one_euro: smoothing parameters (speeds in torso lengths per second).
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.
        workers: pose graphs run in parallel threads, each on a contiguous part of the
            video (its tracker starts afresh there); ``None``: 2 on a machine with 2 or
            more cores when at least 60 frames are analysed, else 1.
        info: the :func:`~flag3d.video.decode.probe_video` result when the caller already
            has it (e.g. to check a duration limit first).

    Raises:
        FormatError: the file is not a usable video (before any decoding), or nobody is
            found in it.
        MissingDependencyError: PyAV or MediaPipe is not installed.
    """
    t_start = time.perf_counter()
    p = Path(path)
    if target_fps is not None and not (np.isfinite(target_fps) and target_fps > 0):
        raise ValueError(f"target_fps must be a positive number or None, got {target_fps!r}")
    info = info if info is not None else probe_video(p)
    t_probe = time.perf_counter() - t_start
    n_workers = _auto_workers(workers, info.analysed_frames(target_fps), info)
    raw = _run_pose(p, info, target_fps, max_side, progress, n_workers,
                    min_detection_confidence, min_tracking_confidence)
    t_post = time.perf_counter()
    times, present = raw["times"], raw["present"]
    n = len(times)
    if n == 0:
        raise FormatError("no video frame could be decoded", path=p)
    if not present.any():
        raise FormatError(
            f"no person found in the video ({n} frames analysed over {info.duration:.1f} s)",
            path=p,
        )
    centres, sizes = _torso(raw["img"])
    ids = assign_tracks(centres, sizes, present, times)
    keep = main_track(ids)
    used = ids == keep
    other = present & ~used
    breaks = _breaks(ids, keep)

    j2d, j3d, conf = raw["img"], raw["world"], np.where(used[:, None], raw["vis"], 0.0)
    if smooth:
        j2d = smooth_joints(j2d, times, used, one_euro, _median_scale(sizes, used),
                            breaks=breaks)
        j3d = smooth_joints(j3d, times, used, one_euro,
                            _median_scale(_torso(j3d)[1], used), breaks=breaks)
    filled = np.zeros(n, dtype=bool)
    if fill_gap > 0:
        j2d, conf2, filled = fill_gaps(j2d, conf, times, used, fill_gap, breaks)
        j3d, _, _ = fill_gaps(j3d, conf, times, used, fill_gap, breaks)
        conf = conf2
    keep_mask = (used | filled)[:, None, None]
    j2d, j3d = np.where(keep_mask, j2d, 0.0), np.where(keep_mask, j3d, 0.0)

    fps = (n - 1) / float(times[-1] - times[0]) if n > 1 else info.fps
    meta: Dict[str, Any] = {
        "id": p.stem, "source": "video", "domain": "real", "synthetic": False,
        "video": {"file": p.name, "container": info.container, "codec": info.codec,
                  "fps": info.fps, "frames": info.num_frames, "duration": info.duration,
                  "width": info.width, "height": info.height, "rotation": info.rotation},
        "pose_model": MODEL_NAME, "pose_workers": n_workers,
        "frame_indices": [int(i) for i in raw["index"]],
        "person_present": used.tolist(), "interpolated": filled.tolist(),
        "other_person": other.tolist(), "track_switches": switch_frames(ids),
        "smoothing": ({"method": "one_euro_zero_phase", **one_euro.as_dict(),
                       "scale": "median torso length"} if smooth else None),
    }
    common = dict(layout=LAYOUT, fps=fps, confidence=conf.astype(np.float32), times=times,
                  path=str(p))
    pose2d = Sequence(j2d, meta={**meta, "units": "px", "img_shape": info.img_shape,
                                 "coordinates": FRAME_2D}, **common)
    pose3d = Sequence(j3d, meta={**copy.deepcopy(meta), "units": "m", "coordinates": FRAME_3D},
                      **common)
    t_end = time.perf_counter()
    timings = {"probe": t_probe, "decode": raw["decode_s"], "pose": raw["pose_s"],
               "post": t_end - t_post, "total": t_end - t_start}
    return PoseResult(pose2d, pose3d, info, used, filled, other, meta["track_switches"],
                      timings)
