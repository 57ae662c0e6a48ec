"""Open a video file, check it cheaply, and iterate its frames upright in RGB.

Decoding uses PyAV (FFmpeg).  It is chosen over OpenCV's ``VideoCapture`` because it tells
*why* a file cannot be used (no video stream, audio only, unsupported container, truncated)
instead of just failing to open, gives each frame's presentation time (phone videos often
have a variable frame rate) and the rotation of phone videos, and can demux without
decoding, which makes the checks below cost milliseconds.

:func:`probe_video` does all checks before any expensive work and raises a one-line
:class:`~flag3d.errors.FormatError` naming the file for: a missing or empty file, a file
FFmpeg cannot read (corrupt, not a video, an mp4 cut before its index), an unsupported
container (anything but mp4/mov, avi, webm/mkv), a file without a video stream (e.g. audio
only), a video truncated after its header (fewer frames readable than declared, or the
frames end well before the declared duration), a single image, and a first frame that does
not decode.

:func:`iter_frames` decodes every frame (a compressed video needs it) but converts only
the frames it keeps (:func:`select_frames`): with ``target_fps`` a constant-rate video
keeps every n-th frame (a 30 fps video analysed at 15 fps keeps every second frame) and a
variable-rate video keeps frames evenly spaced in time.  Frames
are rotated by the stream's display rotation (as players show them) and optionally
downscaled so their longer side is at most ``max_side`` pixels.

Example:
    >>> from flag3d.video.decode import select_frames
    >>> select_frames([0.0, 0.0333, 0.0667, 0.1, 0.1333], target_fps=15.0).tolist()
    [0, 2, 4]
    >>> from flag3d.video.decode import probe_video
    >>> info = probe_video("../shared/data/videos/barbell-squat-side.mp4")  # doctest: +SKIP
    >>> info.width, info.height, round(info.fps, 2), info.num_frames  # doctest: +SKIP
    (608, 1080, 29.97, 614)
"""

from __future__ import annotations

import math
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from flag3d.errors import FormatError
from flag3d.video.deps import require_av

PathLike = Union[str, "os.PathLike[str]"]

#: FFmpeg demuxer names we accept, with the user-facing names of their files.
SUPPORTED_CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4/mov",
    "avi": "avi",
    "matroska,webm": "mkv/webm",
}
SUPPORTED_TEXT = "mp4, mov, avi, webm, mkv"


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found out about a video file.

    Attributes:
        path: the file.
        container: FFmpeg's demuxer name (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"avi"`` ...).
        codec: the video codec (``"h264"``, ``"vp8"`` ...).
        width, height: frame size in pixels as displayed (after rotation).
        rotation: counter-clockwise display rotation in degrees (0, 90, 180, 270), as
            FFmpeg reports it; frames from :func:`iter_frames` are already rotated.
        fps: average frame rate of the stream.
        num_frames: number of video frames that can be read (counted by demuxing).
        duration: seconds from the first frame to the end of the last.
        has_audio: whether the file also carries an audio stream.
        frame_times: presentation time of every frame in seconds, from 0, sorted.
        start_time: presentation time of the first frame in the file's own clock (s).
        timestamps: whether the frames carry time stamps (else they are counted).
    """

    path: str
    container: str
    codec: str
    width: int
    height: int
    rotation: int
    fps: float
    num_frames: int
    duration: float
    has_audio: bool
    frame_times: np.ndarray = field(repr=False, compare=False)
    start_time: float = 0.0
    timestamps: bool = True

    @property
    def img_shape(self) -> List[int]:
        """``[height, width]`` of the displayed frames (the ``img_shape`` meta key)."""
        return [self.height, self.width]

    def analysed_frames(self, target_fps: Optional[float]) -> int:
        """How many frames :func:`iter_frames` keeps at ``target_fps``."""
        return len(select_frames(self.frame_times, target_fps))

    def analysis_fps(self, target_fps: Optional[float]) -> float:
        """The mean rate of the frames kept at ``target_fps``."""
        idx = select_frames(self.frame_times, target_fps)
        if len(idx) < 2:
            return self.fps
        return (len(idx) - 1) / float(self.frame_times[idx[-1]] - self.frame_times[idx[0]])


class Frame(NamedTuple):
    """One decoded frame: its index in the video, its time (s, from 0) and RGB pixels."""

    index: int
    time: float
    image: np.ndarray  # (H, W, 3) uint8 RGB, upright, C-contiguous


def select_frames(times: Sequence[float] | np.ndarray, target_fps: Optional[float]) -> np.ndarray:
    """Indices of the frames analysed at about ``target_fps``.

    ``times`` are the presentation times (s, sorted) of all frames.  A constant-rate video
    keeps every ``round(source_fps / target_fps)``-th frame, so the kept frames stay evenly
    spaced (29.97 fps at a target of 15 keeps every 2nd: 14.985 fps; 25 fps keeps every
    2nd: 12.5 fps).  A variable-rate video keeps the first frame of every
    ``1 / target_fps`` slot of time.  ``None``, or a target at or above the source rate,
    keeps every frame.
    """
    t = np.asarray(times, dtype=np.float64)
    n = len(t)
    if target_fps is not None and not (math.isfinite(target_fps) and target_fps > 0):
        raise ValueError(f"target_fps must be a positive number, got {target_fps!r}")
    if target_fps is None or n < 2:
        return np.arange(n, dtype=np.int64)
    dt = np.diff(t)
    step = float(np.median(dt))
    if step <= 0 or target_fps * step >= 1.0 - 1e-3:
        return np.arange(n, dtype=np.int64)
    if np.all(np.abs(dt - step) <= 0.25 * step):  # constant frame rate
        stride = max(1, int(round(1.0 / (step * target_fps))))
        return np.arange(0, n, stride, dtype=np.int64)
    slots = np.floor((t - t[0]) * target_fps + 0.25).astype(np.int64)
    first = np.ones(n, dtype=bool)
    first[1:] = slots[1:] > np.maximum.accumulate(slots)[:-1]
    return np.flatnonzero(first).astype(np.int64)


def _reason(err: BaseException) -> str:
    """FFmpeg's reason without the errno and file name PyAV adds."""
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())


def _check_file(p: Path) -> None:
    if not p.exists():
        raise FormatError("no such file", path=p)
    if p.is_dir():
        raise FormatError("is a folder, not a video file", path=p)
    if p.stat().st_size == 0:
        raise FormatError("empty file (0 bytes), not a video", path=p)


def _open(av: Any, p: Path) -> Any:
    try:
        return av.open(str(p), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise FormatError(
            f"cannot read as a video: {_reason(err)} (the file is truncated, corrupt or "
            f"not a video; supported: {SUPPORTED_TEXT})",
            path=p,
        ) from None


def _video_stream(container: Any, p: Path) -> Any:
    if not container.streams.video:
        streams = list(container.streams)
        names = ", ".join(
            s.codec_context.name if s.codec_context is not None else s.type for s in streams
        )
        if streams and all(s.type == "audio" for s in streams):
            what = f"audio only: {names}"
        else:
            what = f"streams: {', '.join(s.type for s in streams)}" if streams else "no streams"
        raise FormatError(f"no video stream ({what}); need a video", path=p)
    name = container.format.name
    if name not in SUPPORTED_CONTAINERS:
        raise FormatError(
            f"unsupported container {name} ({container.format.long_name}); "
            f"supported: {SUPPORTED_TEXT}",
            path=p,
        )
    return container.streams.video[0]


def _packet_times(container: Any, stream: Any, p: Path) -> tuple:
    """Presentation times (s, sorted) of all video packets found by demuxing (no decoding),
    and whether the packets had time stamps."""
    av = require_av()
    tb = float(stream.time_base) if stream.time_base else 0.0
    times: List[float] = []
    try:
        for pkt in container.demux(stream):
            if pkt.size == 0:
                continue
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            if ts is None:  # no time stamps at all: count the frame, place it later
                times.append(math.nan)
                continue
            times.append(ts * tb)
    except (av.FFmpegError, OSError) as err:
        raise FormatError(
            f"corrupt or truncated video: reading stops after {len(times)} frames "
            f"({_reason(err)})",
            path=p,
        ) from None
    arr = np.asarray(times, dtype=np.float64)
    if len(arr) and np.isnan(arr).any():  # fall back to the nominal rate
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        return np.arange(len(arr), dtype=np.float64) / rate, False
    return np.sort(arr), True


def _declared_duration(container: Any, stream: Any) -> Optional[float]:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000.0
    return None


def _first_frame(av: Any, p: Path, codec: str) -> Any:
    container = _open(av, p)
    try:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            return frame
    except (av.FFmpegError, OSError) as err:
        raise FormatError(f"cannot decode the video stream ({codec}): {_reason(err)}",
                          path=p) from None
    finally:
        container.close()
    raise FormatError(f"cannot decode any frame of the video stream ({codec})", path=p)


def probe_video(path: PathLike) -> VideoInfo:
    """Check a video file cheaply and describe it; raises :class:`FormatError` on bad input.

    Costs one demux pass (no decoding) and the decoding of the first frame: about 20 ms
    for a 20 s phone video.
    """
    p = Path(path)
    _check_file(p)
    av = require_av()
    container = _open(av, p)
    try:
        stream = _video_stream(container, p)
        codec = stream.codec_context.name
        has_audio = bool(container.streams.audio)
        rate = stream.average_rate or stream.guessed_rate
        declared_frames = int(stream.frames or 0)
        declared = _declared_duration(container, stream)
        times, stamped = _packet_times(container, stream, p)
    finally:
        container.close()
    n = len(times)
    if n == 0:
        raise FormatError("corrupt or truncated video: no video frame can be read", path=p)
    if declared_frames and n < declared_frames:
        raise FormatError(
            f"truncated video: only {n} of the {declared_frames} declared frames can be read",
            path=p,
        )
    fps = float(rate) if rate else (n - 1) / max(times[-1] - times[0], 1e-9)
    t0 = times[0]
    times = times - t0
    duration = float(times[-1] + 1.0 / fps)
    short = declared is not None and duration < declared - max(0.25, 0.2 * declared)
    if short and not declared_frames:
        raise FormatError(
            f"truncated video: frames end at {duration:.2f} s of the declared "
            f"{declared:.2f} s",
            path=p,
        )
    if n == 1:
        raise FormatError("holds a single image (1 frame), not a video", path=p)
    first = _first_frame(av, p, codec)
    rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
    rotation = 90 * int(round(rotation / 90.0)) % 360
    w, h = int(first.width), int(first.height)
    if rotation in (90, 270):
        w, h = h, w
    return VideoInfo(
        path=str(p), container=container.format.name, codec=codec, width=w, height=h,
        rotation=rotation, fps=fps, num_frames=n, duration=duration, has_audio=has_audio,
        frame_times=times, start_time=float(t0), timestamps=stamped,
    )


def _nearest(times: np.ndarray, t: float) -> int:
    """Index of the value of the sorted ``times`` closest to ``t``."""
    i = int(np.searchsorted(times, t))
    if i >= len(times):
        return len(times) - 1
    if i > 0 and t - times[i - 1] < times[i] - t:
        return i - 1
    return i


def _scaled_size(w: int, h: int, max_side: Optional[int]) -> Optional[tuple]:
    if max_side is None or max(w, h) <= max_side:
        return None
    s = max_side / float(max(w, h))
    return max(1, int(round(w * s))), max(1, int(round(h * s)))


def iter_frames(
    path: PathLike,
    target_fps: Optional[float] = None,
    max_side: Optional[int] = None,
    info: Optional[VideoInfo] = None,
    start: int = 0,
    stop: Optional[int] = None,
) -> Iterator[Frame]:
    """Decode ``path`` and yield the kept frames upright in RGB.

    Args:
        path: the video file.
        target_fps: keep about this many frames per second (``None``: all frames).
        max_side: downscale so the longer side is at most this many pixels (``None``: no).
        info: the :func:`probe_video` result if already known (else it is probed here).
        start, stop: only frames with ``start <= index < stop`` (indices of all frames);
            a ``start`` after the beginning seeks to the key frame before it.

    Corrupt packets are skipped; when more than 5 % of the frames (and more than 2)
    cannot be decoded a :class:`FormatError` is raised.
    """
    p = Path(path)
    info = info or probe_video(p)
    av = require_av()
    stop = info.num_frames if stop is None else min(stop, info.num_frames)
    keep = np.zeros(max(info.num_frames, 1), dtype=bool)
    keep[select_frames(info.frame_times, target_fps)] = True
    keep[:start] = False
    keep[stop:] = False
    k = (info.rotation // 90) % 4
    container = _open(av, p)
    bad = index = 0
    last = -1
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        size = _scaled_size(stream.codec_context.width, stream.codec_context.height, max_side)
        if start > 0 and info.timestamps and stream.time_base:
            pts = (info.frame_times[min(start, info.num_frames - 1)] + info.start_time)
            container.seek(int(pts / float(stream.time_base)), stream=stream, backward=True)
        packets = container.demux(stream)
        while last < stop - 1:
            try:
                pkt = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, OSError) as err:
                raise FormatError(
                    f"corrupt or truncated video after frame {index}: {_reason(err)}", path=p
                ) from None
            try:
                frames = pkt.decode()
            except (av.FFmpegError, OSError):
                bad += 1
                if bad > max(2, 0.05 * info.num_frames):
                    raise FormatError(
                        f"corrupt video: {bad} frames cannot be decoded (near frame {index})",
                        path=p,
                    ) from None
                continue
            for frame in frames:
                if frame.time is not None:  # robust to frames lost to corrupt packets
                    index = _nearest(info.frame_times, float(frame.time) - info.start_time)
                if index >= stop:
                    last = stop
                    break
                if keep[index] and index > last:
                    last = index
                    if size is None:
                        img = frame.to_ndarray(format="rgb24")
                    else:
                        img = frame.reformat(width=size[0], height=size[1], format="rgb24",
                                             interpolation="BILINEAR").to_ndarray()
                    if k:
                        img = np.ascontiguousarray(np.rot90(img, k=k))
                    yield Frame(index, float(info.frame_times[index]), img)
                index += 1
    finally:
        container.close()


_END = object()


class _Failed(NamedTuple):
    error: BaseException


def prefetch(items: Iterator[Any], maxsize: int = 8) -> Iterator[Any]:
    """Run the iterator ``items`` in a background thread, ``maxsize`` items ahead.

    FFmpeg decodes without holding the GIL, so decoding the next frames overlaps the pose
    model working on the current one.  Exceptions from ``items`` are re-raised here;
    closing this generator stops the thread.
    """
    q: "queue.Queue[Any]" = queue.Queue(maxsize)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(_END)
        except BaseException as err:  # handed to the consumer
            put(_Failed(err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=run, name="flag3d-video-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)
