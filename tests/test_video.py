"""Tests of flag3d.video: decoding, bad files, smoothing, tracks, pose from the real video.

Videos are written here with PyAV (tmp_path); the real squat video comes from the shared
data and is skipped when absent.  Tests that need PyAV or MediaPipe skip without them
(the optional ``video`` extra).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import pytest

from conftest import shared_path
from flag3d.errors import FormatError
from flag3d.video import OneEuroParams, select_frames, smooth_joints
from flag3d.video.deps import MissingDependencyError, require
from flag3d.video.smooth import fill_gaps, one_euro, segments
from flag3d.video.track import assign_tracks, main_track, switch_frames

SQUAT = ("videos", "barbell-squat-side.mp4")


# ----------------------------------------------------------------------------- helpers
def _av() -> Any:
    return pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")


def write_video(path: Path, n: int = 30, fps: int = 30, w: int = 64, h: int = 48,
                codec: str = "libx264", rotation: int = 0, frames: Optional[List] = None,
                options: Optional[dict] = None) -> Path:
    """A small video whose frame i is uniformly grey level 8*i (or the given frames)."""
    av = _av()
    c = av.open(str(path), "w", options=options or {})
    s = c.add_stream(codec, rate=fps)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    if rotation:
        s.set_display_rotation(rotation)
    for i in range(n):
        img = frames[i] if frames is not None else np.full((h, w, 3), (8 * i) % 256, np.uint8)
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode():
        c.mux(pkt)
    c.close()
    return path


def write_m4a(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    """An audio-only mp4 container (AAC)."""
    av = _av()
    c = av.open(str(path), "w", format="mp4")
    s = c.add_stream("aac", rate=rate)
    sig = (0.3 * np.sin(np.arange(int(seconds * rate)) / 5.0)).astype(np.float32)[None, :]
    frame = av.AudioFrame.from_ndarray(sig, format="fltp", layout="mono")
    frame.sample_rate = rate
    for pkt in s.encode(frame):
        c.mux(pkt)
    for pkt in s.encode():
        c.mux(pkt)
    c.close()
    return path


def one_line_error(exc: pytest.ExceptionInfo, path: Path, *parts: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(str(path)), msg
    for part in parts:
        assert part in msg, msg
    return msg


# ---------------------------------------------------------------------- frame selection
def test_select_frames_keeps_even_strides_or_time_slots() -> None:
    t = np.arange(614) / (30000 / 1001)  # the squat video: 29.97 fps
    kept = select_frames(t, 15.0)
    assert len(kept) == 307 and (np.diff(kept) == 2).all()
    assert len(select_frames(t, None)) == 614 and len(select_frames(t, 60.0)) == 614
    assert (np.diff(select_frames(np.arange(250) / 25.0, 15.0)) == 2).all()  # 12.5 fps
    assert (np.diff(select_frames(np.arange(600) / 60.0, 15.0)) == 4).all()
    # variable frame rate (30 fps with jittered, dropped frames): one frame per 1/15 s slot
    rng = np.random.default_rng(0)
    vfr = np.cumsum(rng.choice([1 / 30, 1 / 30, 1 / 20, 1 / 60], 300))
    vfr -= vfr[0]
    kept = select_frames(vfr, 15.0)
    slots = np.floor(vfr[kept] * 15.0 + 0.25)
    assert (np.diff(slots) >= 1).all() and len(kept) == len(np.unique(np.floor(vfr * 15 + 0.25)))
    with pytest.raises(ValueError, match="target_fps"):
        select_frames(t, 0.0)


# ----------------------------------------------------------------------- decoding
@pytest.mark.parametrize("name,codec", [("a.mp4", "libx264"), ("a.mov", "libx264"),
                                        ("a.avi", "mpeg4"), ("a.webm", "libvpx"),
                                        ("a.mkv", "libx264")])
def test_probe_and_frames_of_each_container(tmp_path: Path, name: str, codec: str) -> None:
    from flag3d.video import iter_frames, probe_video

    p = write_video(tmp_path / name, codec=codec)
    info = probe_video(p)
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.num_frames == 30 and info.fps == pytest.approx(30.0)
    assert info.duration == pytest.approx(1.0, abs=2e-3)  # matroska: ms time stamps
    assert info.img_shape == [48, 64] and info.analysed_frames(15.0) == 15
    frames = list(iter_frames(p, target_fps=15.0))
    assert [f.index for f in frames] == list(range(0, 30, 2))
    assert np.allclose([f.time for f in frames], np.arange(0, 30, 2) / 30.0, atol=2e-3)
    grey = [float(f.image.mean()) for f in frames]
    assert np.allclose(grey, 8 * np.arange(0, 30, 2), atol=6)  # lossy codecs
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_phone_video_is_returned_upright(tmp_path: Path, rotation: int) -> None:
    from flag3d.video import iter_frames, probe_video

    img = np.zeros((32, 64, 3), np.uint8)
    img[:8, :8] = 255  # a white top-left corner in the stored frame
    p = write_video(tmp_path / "rot.mp4", n=4, w=64, h=32, rotation=rotation,
                    frames=[img] * 4)
    info = probe_video(p)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((32, 64) if rotation in (90, 270) else (64, 32))
    frame = next(iter(iter_frames(p)))
    assert frame.image.shape == (info.height, info.width, 3)
    ys, xs = np.nonzero(frame.image[..., 0] > 128)
    # Counter-clockwise display rotation moves the stored top-left corner to:
    corner = {90: (59.5, 3.5), 180: (27.5, 59.5), 270: (3.5, 27.5)}[rotation]
    assert (ys.mean(), xs.mean()) == pytest.approx(corner, abs=0.6)


def test_downscaled_frames_keep_the_aspect(tmp_path: Path) -> None:
    from flag3d.video import iter_frames

    p = write_video(tmp_path / "big.mp4", n=3, w=320, h=180)
    frame = next(iter(iter_frames(p, max_side=160)))
    assert frame.image.shape == (90, 160, 3)


# -------------------------------------------------------------------- bad video files
def _bad_files(tmp_path: Path) -> dict:
    """name -> (path, distinctive part of the message)."""
    _av()
    out = {}
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    out["empty"] = (empty, "empty file (0 bytes)")
    whole = write_video(tmp_path / "whole.mp4").read_bytes()
    cut = tmp_path / "truncated.mp4"  # the index (moov) is at the end: cut away
    cut.write_bytes(whole[: len(whole) // 2])
    out["truncated mp4"] = (cut, "cannot read as a video: Invalid data found")
    fast = write_video(tmp_path / "fast.mp4", n=60, options={"movflags": "faststart"})
    data = fast.read_bytes()
    cutfast = tmp_path / "truncated_faststart.mp4"  # index first, frames cut away
    cutfast.write_bytes(data[: int(len(data) * 0.6)])
    out["truncated faststart mp4"] = (cutfast, "truncated video: only")
    webm = write_video(tmp_path / "whole.webm", codec="libvpx").read_bytes()
    cutwebm = tmp_path / "truncated.webm"
    cutwebm.write_bytes(webm[: len(webm) // 2])
    out["truncated webm"] = (cutwebm, "truncated video: frames end at")
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    out["corrupt"] = (junk, "cannot read as a video")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    out["text"] = (text, "cannot read as a video")
    out["audio-only m4a"] = (write_m4a(tmp_path / "voice.m4a"), "no video stream (audio only: aac)")
    wav = tmp_path / "voice.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(4000, np.int16).tobytes())
    out["audio-only wav"] = (wav, "no video stream (audio only: pcm_s16le)")
    out["single frame"] = (write_video(tmp_path / "still.mp4", n=1), "single image")
    out["folder"] = (tmp_path, "is a folder")
    out["missing"] = (tmp_path / "nope.mp4", "no such file")
    return out


def test_video_corrupt_inside_fails_while_decoding(tmp_path: Path) -> None:
    from flag3d.video import iter_frames, probe_video

    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(60)]
    good = write_video(tmp_path / "tex.mp4", n=60, w=128, h=96, frames=noise).read_bytes()
    bad = bytearray(good)
    a, b = int(0.2 * len(bad)), int(0.5 * len(bad))  # the index (at the end) is intact
    bad[a:b] = rng.integers(0, 256, b - a, dtype=np.uint8).tobytes()
    p = tmp_path / "corrupt.mp4"
    p.write_bytes(bytes(bad))
    assert probe_video(p).num_frames == 60  # only decoding can tell
    with pytest.raises(FormatError) as exc:
        list(iter_frames(p))
    one_line_error(exc, p, "corrupt video:", "frames cannot be decoded")


def _write_gif(path: Path) -> Path:
    av = _av()
    c = av.open(str(path), "w")
    s = c.add_stream("gif", rate=10)
    s.width, s.height, s.pix_fmt = 32, 32, "rgb8"
    for i in range(4):
        img = np.full((32, 32, 3), 40 * i, np.uint8)
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="rgb8")):
            c.mux(pkt)
    for pkt in s.encode():
        c.mux(pkt)
    c.close()
    return path


def test_bad_files_give_one_line_format_errors_naming_the_file(tmp_path: Path) -> None:
    from flag3d.video import probe_video

    cases = _bad_files(tmp_path)
    cases["gif"] = (_write_gif(tmp_path / "anim.gif"), "unsupported container gif")
    for name, (path, part) in cases.items():
        with pytest.raises(FormatError) as exc:
            probe_video(path)
        one_line_error(exc, path, part)


def test_bad_files_fail_before_the_pose_model_starts(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import flag3d.video.pose as pose_mod

    class Forbidden:
        def __init__(self, *a: Any, **k: Any) -> None:
            raise AssertionError("the pose model was started for a bad file")

    monkeypatch.setattr(pose_mod, "MediaPipePose", Forbidden)
    cases = _bad_files(tmp_path)
    for name in ("empty", "truncated faststart mp4", "audio-only m4a", "corrupt"):
        path, part = cases[name]
        t0 = time.perf_counter()
        with pytest.raises(FormatError, match=re.escape(part)):
            pose_mod.extract_pose(path)
        assert time.perf_counter() - t0 < 1.0


# -------------------------------------------------------------------- smoothing
def test_one_euro_reduces_jitter_and_does_not_lag_a_step() -> None:
    fps, n, step_at = 15.0, 90, 45
    t = np.arange(n) / fps
    rng = np.random.default_rng(1)
    for height in (1.0, 0.2):  # in torso lengths (scale = 1)
        clean = np.zeros((n, 2, 3))
        clean[step_at:, :, 1] = height
        noisy = clean + rng.normal(0.0, 0.01, clean.shape)
        out = smooth_joints(noisy, t, np.ones(n, bool))
        jitter = lambda a: np.std(np.diff(a[:40], axis=0))  # noqa: E731  still part
        assert jitter(out) < 0.3 * jitter(noisy)
        y = out[:, 0, 1]
        assert int(np.argmax(y > 0.5 * height)) == step_at  # half-way on the step frame
        rise = (int(np.argmax(y > 0.1 * height)), int(np.argmax(y > 0.9 * height)))
        assert step_at - 2 <= rise[0] and rise[1] <= step_at + 2, rise
        # the causal filter alone does lag: the zero-phase pass is what removes it
        causal = one_euro(noisy, t)[:, 0, 1]
        assert int(np.argmax(causal > 0.9 * height)) > rise[1]


def test_smoothing_keeps_a_squat_dip_and_skips_invalid_frames() -> None:
    t = np.arange(0, 5, 1 / 15)
    dip = -0.8 * (1 - np.cos(2 * np.pi * np.clip(t - 1, 0, 1.0))) / 2  # 1 s dip
    x = np.stack([np.zeros_like(dip), dip], -1)[:, None, :]
    y = smooth_joints(x, t, np.ones(len(t), bool))
    assert np.argmin(y[:, 0, 1]) == np.argmin(dip)
    assert y[:, 0, 1].min() < 0.96 * dip.min()  # at most 4 % of the depth lost
    valid = np.ones(len(t), bool)
    valid[10:14] = False
    x2 = x.copy()
    x2[10:14] = 99.0  # garbage on invalid frames must neither move nor leak
    y2 = smooth_joints(x2, t, valid)
    assert (y2[10:14] == 99.0).all() and np.abs(y2[valid]).max() < 1.0
    scaled = smooth_joints(x * 300.0, t, np.ones(len(t), bool), scale=300.0)
    assert np.allclose(scaled, y * 300.0, atol=1e-6)  # parameters are in scale units


def test_segments_split_at_gaps_and_breaks() -> None:
    t = np.arange(10) / 10.0
    valid = np.array([1, 1, 1, 0, 0, 0, 0, 1, 1, 1], bool)
    assert [s.tolist() for s in segments(valid, t, 0.3)] == [[0, 1, 2], [7, 8, 9]]
    assert len(segments(valid, t, 1.0)) == 1
    br = np.zeros(10, bool)
    br[8] = True
    assert [s.tolist() for s in segments(valid, t, 1.0, br)] == [[0, 1, 2, 7], [8, 9]]


def test_fill_gaps_interpolates_and_marks_only_short_gaps() -> None:
    t = np.arange(12) / 15.0
    j = np.zeros((12, 1, 2))
    j[:, 0, 0] = np.arange(12)
    conf = np.ones((12, 1))
    valid = np.array([1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1], bool)
    br = np.zeros(12, bool)
    br[11] = True
    out, c, filled = fill_gaps(j * valid[:, None, None], conf * valid[:, None], t, valid,
                               max_gap=0.25, breaks=br)
    assert filled.tolist() == [False, False, True] + [False] * 9  # 4-6 too long, 9-10 break
    assert out[2, 0, 0] == pytest.approx(2.0) and c[2, 0] == pytest.approx(0.5)
    assert (out[4:7] == 0).all() and (c[4:7] == 0).all()


# ----------------------------------------------------------------------- tracks
def test_tracks_follow_one_person_and_flag_a_jump_to_another() -> None:
    n = 40
    t = np.arange(n) / 15.0
    centres = np.stack([200 + 20 * np.sin(t * 3), 400 + 60 * np.sin(t * 2)], -1)  # squatting
    sizes = np.full(n, 150.0)
    present = np.ones(n, bool)
    ids = assign_tracks(centres, sizes, present, t)
    assert (ids == 0).all() and switch_frames(ids) == []
    # frames 10-14: the detector locks on to somebody 2 torso lengths away (and smaller)
    c2, s2 = centres.copy(), sizes.copy()
    c2[10:15, 0] += 300
    s2[10:15] = 90.0
    present[20:30] = False  # then our person is lost for 10 frames and comes back
    ids = assign_tracks(c2, s2, present, t)
    assert ids[10:15].tolist() == [1] * 5 and (ids[:10] == 0).all() and (ids[30:] == 0).all()
    assert (ids[20:30] == -1).all() and main_track(ids) == 0
    assert switch_frames(ids) == [10, 15]


# ------------------------------------------------------------ the pipeline, scripted pose
def _fake_pose(script: List[Optional[str]]) -> Any:
    """A stand-in for MediaPipePose returning scripted landmarks ('A', 'B' or None).

    It reads which analysed frame it sees from the frame's grey level, so it gives the
    same answers when several workers run it in parallel."""
    from flag3d.video.mediapipe_pose import Landmarks

    base = np.full((33, 2), 0.5, np.float32)
    base[[11, 12], 1], base[[23, 24], 1] = 0.4, 0.6  # shoulders, hips: torso 0.2 high
    world = np.zeros((33, 3), np.float32)
    world[[11, 12], 1] = 0.5  # shoulders 0.5 m above the hips

    class Fake:
        def __init__(self, *a: Any, **k: Any) -> None:
            pass

        def __enter__(self) -> "Fake":
            return self

        def __exit__(self, *exc: Any) -> None:
            pass

        def close(self) -> None:
            pass

        def process(self, rgb: np.ndarray) -> Optional[Landmarks]:
            # frame i of write_video is grey 8*i; analysed at 15 of 30 fps: k = i / 2
            who = script[int(round(float(rgb.mean()) / 16.0))]
            if who is None:
                return None
            img = base + (np.array([0.4, 0.0], np.float32) if who == "B" else 0.0)
            return Landmarks(img, world.copy(), np.full(33, 0.9, np.float32))

    return Fake


def test_pipeline_marks_missing_frames_other_person_and_interpolation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flag3d.video.pose as pose_mod

    p = write_video(tmp_path / "clip.mp4", n=30, w=64, h=48)  # 15 frames at 15 fps
    script = ["A"] * 5 + [None, "A", "B", "A", None, None, None, "A", "A", "A"]
    monkeypatch.setattr(pose_mod, "MediaPipePose", _fake_pose(script))
    calls: List[tuple] = []
    res = pose_mod.extract_pose(p, target_fps=15.0, smooth=False, workers=1,
                                progress=lambda d, t: calls.append((d, t)))
    two = pose_mod.extract_pose(p, target_fps=15.0, smooth=False, workers=2)
    assert two.pose2d.meta["pose_workers"] == 2
    assert np.array_equal(two.pose2d.joints, res.pose2d.joints)
    assert np.array_equal(two.pose3d.confidence, res.pose3d.confidence)
    assert np.array_equal(two.pose3d.times, res.pose3d.times)
    done = [d for d, _ in calls]
    assert calls[-1] == (15, 15) and {t for _, t in calls} == {15}
    assert done == sorted(set(done)) and done[0] >= 1
    present = [1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1]
    assert res.person_present.astype(int).tolist() == present
    assert np.flatnonzero(res.interpolated).tolist() == [5]  # 1-frame gap, marked
    assert np.flatnonzero(res.other_person).tolist() == [7]  # B dropped
    assert res.track_switches == [7, 8]
    s2, s3 = res.pose2d, res.pose3d
    assert s2.layout == s3.layout == "blazepose33" and s2.num_frames == 15
    assert s2.meta["units"] == "px" and s2.meta["img_shape"] == [48, 64]
    assert s3.meta["units"] == "m" and s3.meta["person_present"] == [bool(v) for v in present]
    assert np.allclose(s2.times, np.arange(0, 30, 2) / 30.0) and s2.fps == pytest.approx(15.0)
    assert s2.joints[0, 23].tolist() == pytest.approx([32.0, 28.8])  # 0.5*64, 0.6*48 px
    for k in (7, 9, 10, 11):  # not invented: zeros with confidence 0
        assert (s2.joints[k] == 0).all() and (s3.joints[k] == 0).all()
        assert (s2.confidence[k] == 0).all()
    assert s2.confidence[5] == pytest.approx(np.full(33, 0.45))  # interpolated: halved
    assert s2.confidence[0] == pytest.approx(np.full(33, 0.9))
    assert res.convert("flag3d24").joints.shape == (15, 24, 3)
    assert res.convert("coco17", space="2d").joints.shape == (15, 17, 2)
    assert res.convert("h36m17").meta["conversion"] == "blazepose33>coco17>h36m17"


def test_mediapipe_world_axes_become_y_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace as NS

    from flag3d.video.mediapipe_pose import MediaPipePose

    pts = [NS(x=0.1 * i, y=0.2, z=0.3, visibility=0.7) for i in range(33)]
    wpts = [NS(x=0.1, y=-0.5, z=0.2, visibility=0.7) for _ in range(33)]  # 0.5 m above hips
    est = MediaPipePose.__new__(MediaPipePose)
    est._quiet, est._seen_person = False, True
    est._pose = NS(process=lambda rgb: NS(pose_landmarks=NS(landmark=pts),
                                         pose_world_landmarks=NS(landmark=wpts)))
    lm = est.process(np.zeros((4, 4, 3), np.uint8))
    assert lm.world[0].tolist() == pytest.approx([0.1, 0.5, -0.2])  # y up, z to the camera
    assert lm.image[3].tolist() == pytest.approx([0.3, 0.2]) and lm.visibility[0] == \
        pytest.approx(0.7)


# ------------------------------------------------------------------ dependencies
def test_missing_dependency_message() -> None:
    with pytest.raises(MissingDependencyError, match=r"pip install -e '\.\[video\]'"):
        require("mediapipe_that_does_not_exist", "pose from video")


def test_package_imports_without_av_and_mediapipe(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['av'] = None; sys.modules['mediapipe'] = None\n"
        "import flag3d.video as v\n"
        "try:\n    v.probe_video(sys.argv[1])\n"
        "except v.MissingDependencyError as e:\n    print(e)\n"
    )
    f = tmp_path / "x.mp4"
    f.write_bytes(b"\0" * 16)
    out = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "reading video needs the optional dependency av: pip install -e '.[video]'")


# ------------------------------------------------------------------- MediaPipe itself
def _mediapipe() -> Any:
    return pytest.importorskip("mediapipe", reason="MediaPipe (the 'video' extra) is not installed")


def test_blank_video_gives_no_person_found_without_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _mediapipe()
    from flag3d.video import extract_pose

    def no_network(*a: Any, **k: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    p = write_video(tmp_path / "blank.mp4", n=30, w=96, h=128,
                    frames=[np.full((128, 96, 3), 90, np.uint8)] * 30)
    with pytest.raises(FormatError) as exc:
        extract_pose(p, target_fps=10.0)
    one_line_error(exc, p, "no person found in the video (10 frames analysed")


def test_bundled_model_is_the_one_used() -> None:
    mp = _mediapipe()
    from flag3d.video.mediapipe_pose import MODEL_COMPLEXITY

    root = Path(mp.__file__).parent / "modules"
    assert MODEL_COMPLEXITY == 1
    assert (root / "pose_landmark" / "pose_landmark_full.tflite").stat().st_size > 1_000_000
    assert (root / "pose_detection" / "pose_detection.tflite").is_file()


# --------------------------------------------------------------- the real squat video
@pytest.fixture(scope="module")
def squat() -> Any:
    _mediapipe()
    from flag3d.video import extract_pose

    path = shared_path(*SQUAT)
    t0 = time.perf_counter()
    res = extract_pose(path)
    print(f"\nextract_pose({path.name}): {time.perf_counter() - t0:.1f} s, "
          f"timings {({k: round(v, 2) for k, v in res.timings.items()})}")
    return res


def _minimum_in(t: np.ndarray, h: np.ndarray, lo: float, hi: float) -> tuple:
    sel = np.flatnonzero((t >= lo) & (t < hi))
    k = sel[np.argmin(h[sel])]
    return float(t[k]), float(h[k])


@pytest.mark.realdata
@pytest.mark.slow
def test_squat_video_pose_has_two_bottoms_near_10_5_and_17_5_s(squat: Any) -> None:
    info = squat.info
    assert info.fps == pytest.approx(29.97, abs=0.01) and info.num_frames == 614
    assert info.duration == pytest.approx(20.5, abs=0.1)
    assert (info.width, info.height) == (608, 1080)
    assert squat.pose3d.num_frames == 307 and squat.present_fraction > 0.95
    assert squat.track_switches == []
    t = squat.times
    j3 = squat.pose3d.joints
    hip_height = j3[:, [23, 24], 1].mean(1) - j3[:, [27, 28], 1].mean(1)  # above ankles, m
    hip_y_px = squat.pose2d.joints[:, [23, 24], 1].mean(1)
    standing = float(np.median(hip_height[t < 8]))
    b1, b2 = _minimum_in(t, hip_height, 8, 14), _minimum_in(t, hip_height, 14, 21)
    p1, p2 = _minimum_in(t, -hip_y_px, 8, 14), _minimum_in(t, -hip_y_px, 14, 21)
    print(f"3D hip height: standing {standing:.3f} m, bottoms {b1[0]:.2f} s ({b1[1]:.3f} m) "
          f"and {b2[0]:.2f} s ({b2[1]:.3f} m); 2D hip lowest at {p1[0]:.2f} s and {p2[0]:.2f} s")
    assert b1[0] == pytest.approx(10.5, abs=0.5) and b2[0] == pytest.approx(17.5, abs=0.5)
    assert p1[0] == pytest.approx(10.5, abs=0.5) and p2[0] == pytest.approx(17.5, abs=0.5)
    assert b1[1] < 0.7 * standing and b2[1] < 0.7 * standing  # clear minima
    assert hip_height[t < 9].min() > 0.85 * standing  # the standing part has no dip
    assert 0.5 < standing < 1.1  # a plausible hip height in metres
    flag = squat.convert("flag3d24")
    assert flag.joints.shape == (307, 24, 3) and flag.meta["units"] == "m"
    assert squat.convert("coco17", space="2d").meta["img_shape"] == [1080, 608]
