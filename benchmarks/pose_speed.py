"""Benchmark of pose from video (flag3d.video): decode speed, pose speed, end-to-end time.

On the real squat video (``shared/data/videos/barbell-squat-side.mp4``, 608x1080, 29.97 fps,
20.5 s) it measures, interleaving the settings in rounds so that the load of this shared
machine hits all of them alike:

* decode: frames per second of PyAV decoding + RGB conversion, all frames at full size,
  and the frames kept at the analysis rate downscaled to ``max_side``;
* pose: frames per second of MediaPipe pose (``model_complexity=1``) alone, on frames
  decoded beforehand, at full rate / full size, full rate / ``max_side`` and analysis
  rate / ``max_side``;
* end to end: seconds of ``extract_pose`` (probe + threaded decode + pose + tracks +
  smoothing) at the analysis rate with one and with two pose workers, at 10 fps, and at
  the full rate and size (the accuracy reference);
* accuracy of each end-to-end setting: share of frames with the person, the times of the
  two squat bottoms (lowest 3D hip height above the ankles after 8 s and after 14 s;
  expected near 10.5 s and 17.5 s), and the mean 2D distance (px) of the landmarks to the
  full-rate, full-size run at the same frames.

Times are the best of ``--rounds`` rounds, with the CPU seconds (all threads) of that run;
the load average is recorded before and after.  Last, the effect of the smoothing on the
real video: jitter while standing and the depth of the two squat bottoms, without and with.
torch is not involved: MediaPipe (TFLite/XNNPACK) and FFmpeg choose their own threads.
Results go to ``benchmarks/results/pose_speed.json`` (data source: the real squat video).

Example:
    $ .venv/bin/python benchmarks/pose_speed.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from flag3d.paths import shared_data_dir


def machine() -> Dict[str, Any]:
    import av
    import mediapipe as mp

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "logical_cpus": os.cpu_count(),
        "pyav": av.__version__,
        "libavcodec": ".".join(str(v) for v in av.library_versions.get("libavcodec", ())),
        "mediapipe": mp.__version__,
    }


def squat_bottoms(res: Any) -> List[float]:
    """Times of the lowest 3D hip height after 8 s and after 14 s."""
    t = res.times
    j = res.pose3d.joints
    h = j[:, [23, 24], 1].mean(1) - j[:, [27, 28], 1].mean(1)
    out = []
    for lo, hi in ((8.0, 14.0), (14.0, 1e9)):
        sel = np.flatnonzero((t >= lo) & (t < hi) & res.person_present)
        out.append(round(float(t[sel[np.argmin(h[sel])]]), 3))
    return out


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn: Callable[[], Any]) -> tuple:
    t0, c0 = time.perf_counter(), cpu_seconds()
    out = fn()
    return time.perf_counter() - t0, cpu_seconds() - c0, out


def standing_jitter(res: Any, until: float = 8.0) -> float:
    """Mean over confident joints of the std of the 2D second difference (px) while still."""
    sel = res.times < until
    j = res.pose2d.joints[sel]
    conf = res.pose2d.confidence[sel].min(axis=0) > 0.5
    acc = np.diff(j[:, conf], n=2, axis=0)
    return float(np.linalg.norm(acc, axis=-1).std(axis=0).mean())


def hip_depths(res: Any) -> List[float]:
    """Lowest 3D hip height above the ankles (m) after 8 s and after 14 s."""
    t, j = res.times, res.pose3d.joints
    h = j[:, [23, 24], 1].mean(1) - j[:, [27, 28], 1].mean(1)
    return [round(float(h[(t >= lo) & (t < hi)].min()), 4) for lo, hi in ((8, 14), (14, 1e9))]


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=None, help="default: the shared squat video")
    ap.add_argument("--target-fps", type=float, default=15.0)
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "pose_speed.json"))
    args = ap.parse_args(argv)

    from flag3d.video import extract_pose, iter_frames, probe_video
    from flag3d.video.mediapipe_pose import MediaPipePose

    if args.video:
        video = Path(args.video)
    else:
        root = shared_data_dir()
        if root is None:
            sys.exit("the shared data is not here: set FLAG3D_SHARED_DATA")
        video = root / "videos" / "barbell-squat-side.mp4"
    info = probe_video(video)
    load_before = list(os.getloadavg())
    tf, ms = args.target_fps, args.max_side

    def decode(target: Optional[float], side: Optional[int]) -> int:
        return sum(1 for _ in iter_frames(video, target, max_side=side, info=info))

    def pose_only(frames: List[np.ndarray]) -> int:
        with MediaPipePose() as est:
            return sum(est.process(f) is not None for f in frames)

    frames_full = [f.image for f in iter_frames(video, None, info=info)]
    frames_small = [f.image for f in iter_frames(video, None, max_side=ms, info=info)]
    frames_small_tf = [f.image for f in iter_frames(video, tf, max_side=ms, info=info)]

    cases: Dict[str, Callable[[], Any]] = {
        "decode_full_rate_full_size": lambda: decode(None, None),
        f"decode_{tf:g}fps_max{ms}": lambda: decode(tf, ms),
        "pose_full_rate_full_size": lambda: pose_only(frames_full),
        f"pose_full_rate_max{ms}": lambda: pose_only(frames_small),
        f"pose_{tf:g}fps_max{ms}": lambda: pose_only(frames_small_tf),
        f"extract_pose_{tf:g}fps_max{ms}_workers1":
            lambda: extract_pose(video, tf, max_side=ms, workers=1),
        f"extract_pose_{tf:g}fps_max{ms}_workers2":
            lambda: extract_pose(video, tf, max_side=ms, workers=2),
        f"extract_pose_10fps_max{ms}_workers2":
            lambda: extract_pose(video, 10.0, max_side=ms, workers=2),
        "extract_pose_full_rate_full_size_workers2":
            lambda: extract_pose(video, None, max_side=None, workers=2),
    }
    n_frames = {
        "decode_full_rate_full_size": info.num_frames,
        f"decode_{tf:g}fps_max{ms}": info.analysed_frames(tf),
        "pose_full_rate_full_size": len(frames_full),
        f"pose_full_rate_max{ms}": len(frames_small),
        f"pose_{tf:g}fps_max{ms}": len(frames_small_tf),
    }
    best: Dict[str, float] = {}
    cpu: Dict[str, float] = {}
    results: Dict[str, Any] = {}
    for r in range(args.rounds):
        for name, fn in cases.items():
            dt, dc, out = timed(fn)
            if dt < best.get(name, np.inf):
                best[name], cpu[name] = dt, dc
            results[name] = out
            print(f"round {r + 1} {name}: {dt:.2f} s, cpu {dc:.2f} s", file=sys.stderr,
                  flush=True)
    load_after = list(os.getloadavg())
    # Smoothing on the real video: the same frames and chunks with and without it.
    smoothed = results[f"extract_pose_{tf:g}fps_max{ms}_workers1"]
    raw = extract_pose(video, tf, max_side=ms, workers=1, smooth=False)
    smoothing = {
        "standing_jitter_px_raw": round(standing_jitter(raw), 3),
        "standing_jitter_px_smoothed": round(standing_jitter(smoothed), 3),
        "squat_hip_height_m_raw": hip_depths(raw),
        "squat_hip_height_m_smoothed": hip_depths(smoothed),
        "squat_bottoms_s_raw": squat_bottoms(raw),
        "squat_bottoms_s_smoothed": squat_bottoms(smoothed),
        "what": "jitter: std of the 2D second difference while standing (t < 8 s), mean "
                "over joints with confidence > 0.5; hip height above the ankles at the "
                "two squat bottoms",
    }

    ref = results["extract_pose_full_rate_full_size_workers2"]
    table: Dict[str, Dict[str, Any]] = {}
    for name, dt in best.items():
        row: Dict[str, Any] = {"seconds": round(dt, 3), "cpu_seconds": round(cpu[name], 3)}
        if name in n_frames:
            row["frames"] = n_frames[name]
            row["fps"] = round(n_frames[name] / dt, 1)
        else:
            res = results[name]
            row["frames"] = res.pose3d.num_frames
            row["fps"] = round(res.pose3d.num_frames / dt, 1)
            row["video_seconds_per_second"] = round(info.duration / dt, 2)
            row["timings"] = {k: round(v, 3) for k, v in res.timings.items()}
            row["person_present"] = round(res.present_fraction, 4)
            row["squat_bottoms_s"] = squat_bottoms(res)
            idx = np.asarray(res.pose2d.meta["frame_indices"])
            both = res.person_present & ref.person_present[idx]
            diff = np.linalg.norm(res.pose2d.joints[both] - ref.pose2d.joints[idx][both], axis=-1)
            row["mean_px_to_full_rate_full_size"] = round(float(diff.mean()), 2)
            row["workers"] = res.pose2d.meta["pose_workers"]
        table[name] = row

    print(f"\n{video.name}: {info.width}x{info.height}, {info.fps:.2f} fps, {info.num_frames} "
          f"frames, {info.duration:.2f} s; load {load_before[0]:.1f} -> {load_after[0]:.1f}")
    print(f"{'setting':42s} {'frames':>6s} {'seconds':>8s} {'cpu s':>7s} {'fps':>7s}  notes")
    for name, row in table.items():
        note = ""
        if "squat_bottoms_s" in row:
            note = (f"bottoms {row['squat_bottoms_s']} s, present {row['person_present']:.3f}, "
                    f"{row['mean_px_to_full_rate_full_size']} px to full")
        print(f"{name:42s} {row['frames']:6d} {row['seconds']:8.2f} {row['cpu_seconds']:7.2f} "
              f"{row['fps']:7.1f}  {note}")
    print("smoothing on the real video:", json.dumps(smoothing))

    out = {
        "benchmark": "pose_speed",
        "data_source": f"real: {video.name} (shared data)",
        "video": {"width": info.width, "height": info.height, "fps": info.fps,
                  "frames": info.num_frames, "duration_s": info.duration},
        "parameters": {"target_fps": tf, "max_side": ms, "rounds": args.rounds,
                       "model_complexity": 1, "timing": "best of rounds, interleaved"},
        "results": table,
        "smoothing_real_video": smoothing,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "command": "benchmarks/pose_speed.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
