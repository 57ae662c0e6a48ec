"""Stand-ins for the analysis pipeline, written by the tests (not part of flag3d).

``result_for`` builds a ``result.json`` dict that follows :mod:`flag3d.analysis.result`
exactly from a synthetic sequence, using the generator's *exact* repetitions and quality
labels (probability 0.9 for a met standard, 0.1 for a fault), so tests know every number
on the page.  ``write_audio`` / ``write_blank_video`` make the two media files every front end
must refuse clearly (sound without a picture, a room without a person).  ``fake_analyze`` has the pipeline's signature and reads a skeleton file the
tests wrote; it must stay a module-level function so a process pool can pickle it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from flag3d.analysis.result import SCHEMA, VERSION
from flag3d.errors import FormatError
from flag3d.skeleton import Sequence
from flag3d.synth import SynthConfig, generate_sequence, primary_signal
from flag3d.taxonomy import get_activity


@dataclass
class FakeOutput:
    """The shape of the pipeline's ``AnalysisOutput``."""

    result: Dict[str, Any]
    skeleton: Optional[Sequence] = None
    skeleton2d: Optional[Sequence] = None
    signal: Optional[np.ndarray] = None
    density: Optional[np.ndarray] = None
    files: Dict[str, str] = field(default_factory=dict)


def synth_sequence(activity: str = "A049", reps: int = 5, seed: int = 0, seconds: Optional[float] = None,
                   fault_rate: float = 0.3) -> Sequence:
    """A clean synthetic ``flag3d24`` sequence with exact repetitions and quality in meta."""
    cfg = SynthConfig(reps=(reps, reps), views=(), fault_rate=fault_rate, corrupt=False)
    s = generate_sequence(activity, seed=seed, config=cfg)
    return s.clean["flag3d24"]


def density_of(reps: List[List[int]], n: int) -> np.ndarray:
    """One Gaussian bump per repetition (sums to about 1 each)."""
    t = np.arange(n, dtype=np.float64)
    d = np.zeros(n)
    for a, b in reps:
        mu, sd = (a + b) / 2.0, max((b - a) / 6.0, 0.5)
        g = np.exp(-0.5 * ((t - mu) / sd) ** 2)
        d += g / g.sum()
    return d


def result_for(seq: Sequence, path: Optional[str] = None, kind: str = "skeleton",
               assess: bool = True, activity: Optional[str] = None) -> Dict[str, Any]:
    """A schema-correct result for ``seq`` from its exact labels."""
    fps = seq.fps
    reps = [list(map(int, r)) for r in seq.meta.get("repetitions", [])]
    labels = np.asarray(seq.meta.get("quality", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    act = get_activity(activity or seq.meta["activity"])
    top3 = [{"id": act.id, "name": act.name, "probability": 0.81},
            {"id": "A010", "name": get_activity("A010").name, "probability": 0.12},
            {"id": "A051", "name": get_activity("A051").name, "probability": 0.04}]
    reps_json = [{"index": i, "start_s": round(a / fps, 3), "end_s": round(b / fps, 3),
                  "start_frame": a, "end_frame": b} for i, (a, b) in enumerate(reps)]
    standards = [{"key": s.key, "text": s.text, "body_part": s.body_part} for s in act.standards]
    quality: Dict[str, Any] = {"assessable": False, "reason": None, "score": None,
                               "score_range": [3.0, 9.0], "method": None, "standards": standards,
                               "repetitions": [], "failure_counts": {}, "summary_tip": None}
    if not reps:
        quality["reason"] = "not assessable: no repetition was found"
    elif not assess:
        quality["reason"] = "not assessable: no quality model for this activity"
    else:
        q_reps, counts = [], {s.key: 0 for s in act.standards}
        for i, (a, b) in enumerate(reps):
            checks, failed = [], []
            for j, s in enumerate(act.standards):
                met = bool(labels[i, j])
                checks.append({"key": s.key, "probability": 0.9 if met else 0.1, "met": met})
                if not met:
                    counts[s.key] += 1
                    failed.append({"key": s.key, "text": s.text, "body_part": s.body_part,
                                   "joints": list(s.joints), "mistake": s.mistake})
            tip = act.standard(failed[0]["key"]).tip if failed else None
            q_reps.append({"index": i, "start_s": round(a / fps, 3), "end_s": round(b / fps, 3),
                           "ok": not failed, "standards": checks, "failed": failed, "tip": tip})
        worst = max(counts, key=lambda k: counts[k])
        score = 6.0 + float(np.sum(2.0 * labels.mean(axis=0) - 1.0))
        quality.update(assessable=True, score=round(score, 3), method="exact synthetic labels",
                       repetitions=q_reps, failure_counts=counts,
                       summary_tip=act.standard(worst).tip if counts[worst] else None)
    n = seq.num_frames
    times = np.arange(n) / fps
    feedback = [f"{len(reps)} repetitions of {act.name} found."] if reps else \
        [f"No repetition of {act.name} was found."]
    return {
        "schema": SCHEMA, "version": VERSION, "flag3d_version": "0.1.0",
        "created": "2026-01-01T00:00:00Z",
        "input": {"path": path, "kind": kind, "synthetic": bool(seq.synthetic), "fps": fps,
                  "frames": n, "duration_s": round(seq.duration, 3), "layout": seq.layout,
                  "person_present_fraction": None, "video": None},
        "activity": {"id": act.id, "name": act.name, "body_part": act.body_part,
                     "source": "file", "top3": top3, "recognizer": "fake"},
        "counting": {"count": len(reps), "count_raw": float(len(reps)), "method": "exact labels",
                     "reason": None, "repetitions": reps_json},
        "quality": quality,
        "feedback": feedback,
        "signals": {"times_s": times[::2].round(4).tolist(),
                    "signal": primary_signal(seq)[::2].round(5).tolist(),
                    "signal_name": "primary signal", "density": None},
        "timings_s": {"load": 0.0, "pose": 0.0, "recognition": 0.0, "counting": 0.0,
                      "quality": 0.0, "report": 0.0, "total": 0.0},
        "warnings": [],
    }


def output_for(seq: Sequence, **kw: Any) -> FakeOutput:
    """``result_for`` plus the arrays the report draws."""
    reps = [list(map(int, r)) for r in seq.meta.get("repetitions", [])]
    return FakeOutput(result_for(seq, **kw), skeleton=seq, signal=primary_signal(seq),
                      density=density_of(reps, seq.num_frames))


def fake_analyze(input_path: Optional[Path], activity: Optional[str] = None,
                 out: Optional[Path] = None, progress: Optional[Callable[[str, float], None]] = None,
                 **options: Any) -> FakeOutput:
    """The pipeline's signature on a skeleton file with exact labels in its metadata.

    ``meta["fake_delay_s"]`` makes it sleep (to hold jobs in flight); ``meta["fake_error"]``
    makes it raise that message as a :class:`FormatError` naming the file.
    """
    from flag3d.io import read_sequence

    prog = progress or (lambda stage, fraction: None)
    prog("load", 0.0)
    seq = read_sequence(input_path)
    if seq.meta.get("fake_error"):
        raise FormatError(str(seq.meta["fake_error"]), path=input_path)
    delay = float(seq.meta.get("fake_delay_s", 0.0))
    steps = 4
    for k, stage in enumerate(("recognition", "counting", "quality", "report")):
        prog(stage, k / steps)
        time.sleep(delay / steps)
    return output_for(seq, path=str(input_path), activity=activity)


# ------------------------------------------------------------------ media files
def _av() -> Any:
    """PyAV, or skip the calling test."""
    import pytest

    return pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")


def write_audio(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    """A sine tone as AAC in an mp4/m4a container: a sound file without a picture."""
    av = _av()
    c = av.open(str(path), "w", format="mp4")
    s = c.add_stream("aac", rate=rate)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)
    frame = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
    frame.sample_rate = rate
    for pkt in list(s.encode(frame)) + list(s.encode()):
        c.mux(pkt)
    c.close()
    return path


def write_blank_video(path: Path, n: int = 20, fps: int = 15, w: int = 128, h: int = 96) -> Path:
    """An empty grey room: a valid video with nobody in it."""
    av = _av()
    c = av.open(str(path), "w")
    s = c.add_stream("mpeg4", rate=fps)
    s.width, s.height, s.pix_fmt = w, h, "yuv420p"
    for _ in range(n):
        img = np.full((h, w, 3), 200, np.uint8)
        for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode():
        c.mux(pkt)
    c.close()
    return path
