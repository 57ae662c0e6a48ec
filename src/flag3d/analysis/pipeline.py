"""``flag3d analyze``: one recording in, activity, repetitions, per-repetition quality out.

Stages (each timed in ``result["timings_s"]``):

1. **load** — a video goes through MediaPipe (:func:`flag3d.video.extract_pose`, 15 fps
   analysis rate, world landmarks -> ``flag3d24``); a skeleton file through the readers
   (:func:`flag3d.io.read_sequence`); no input: a built-in demo recording that the
   generator makes on the spot (synthetic, and said so).
2. **recognition** — top-3 activities from the shipped recogniser
   (:mod:`flag3d.analysis.recognize`), unless the user names the activity (``--activity``)
   or the file's metadata does.
3. **counting** — the shipped HL-GCN counter (language-guided by the activity's text); the
   training-free joint-angle counter when no counting model is installed.
4. **quality** — every repetition against the activity's three standards (the shipped
   scorer), the FLAG3D++ Eq. 1 score, and feedback sentences with the taxonomy's tips.
5. **report** — ``result.json`` (schema :mod:`flag3d.analysis.result`) and
   ``report.html``.

Example:
    >>> from flag3d.analysis.pipeline import analyze
    >>> out = analyze(None, write=False)  # the built-in demo  # doctest: +SKIP
    >>> out.result["counting"]["count"] == out.result["input"]["truth"]["count"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from flag3d import __version__
from flag3d.analysis.result import SCHEMA, VERSION, check_result
from flag3d.errors import Flag3dError, FormatError
from flag3d.skeleton.sequence import Sequence

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
#: Sound files go through the video prober, which names them "audio only".
AUDIO_SUFFIXES = (".m4a", ".mp3", ".wav", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wma")
Progress = Callable[[str, float], None]
#: The built-in demo: activity, seed and repetition count of the generated recording.
DEMO = {"activity": "A049", "seed": 7, "reps": 8}


@dataclass
class AnalysisOutput:
    """What :func:`analyze` produced: the result dict and the arrays the report draws."""

    result: Dict[str, Any]
    skeleton: Optional[Sequence] = None          # analysed 3D skeleton (flag3d24)
    skeleton2d: Optional[Sequence] = None        # image-space pose of a video
    signal: Optional[np.ndarray] = None          # per-frame counting signal
    density: Optional[np.ndarray] = None         # per-frame counting density
    files: Dict[str, str] = field(default_factory=dict)


def _noop(stage: str, fraction: float) -> None:
    return None


def _downsample(x: Optional[np.ndarray], n: int = 600) -> Optional[List[float]]:
    if x is None:
        return None
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) <= n:
        return [round(float(v), 5) for v in x]
    idx = np.linspace(0, len(x) - 1, n).round().astype(int)
    return [round(float(v), 5) for v in x[idx]]


def _seconds(seq: Sequence, frame: int) -> float:
    """Time (s from the first frame) of ``frame``; ``num_frames`` is the end of the last one.

    Uses the sequence's time stamps (a video analysed at a thinned, possibly uneven rate),
    else the frame rate.
    """
    if seq.times is None:
        return round(frame / seq.fps, 3)
    t = seq.times - seq.times[0]
    if frame < len(t):
        return round(float(t[max(frame, 0)]), 3)
    return round(float(t[-1]) + (frame - len(t) + 1) / seq.fps, 3)


# ----------------------------------------------------------------------------- load
def demo_recording() -> Sequence:
    """The built-in demo: a synthetic sumo-squat set with a few faulty repetitions."""
    from flag3d.synth import SynthConfig, generate_sequence

    cfg = SynthConfig(reps=(DEMO["reps"], DEMO["reps"]), views=(), fault_rate=0.2)
    sample = generate_sequence(DEMO["activity"], seed=DEMO["seed"], config=cfg, subject=3)
    seq = sample.noisy.get("flag3d24") or sample.clean["flag3d24"]
    return seq.replace(path="<built-in demo>")


def _load(input_path: Optional[Path], progress: Progress) -> Dict[str, Any]:
    """Read the input; returns the 3D sequence, optional 2D pose and input facts."""
    if input_path is None:
        seq = demo_recording()
        truth = {"count": len(seq.meta["repetitions"]), "repetitions": seq.meta["repetitions"],
                 "quality": seq.meta["quality"], "score": seq.meta["score"]}
        return {"seq": seq, "pose2d": None, "kind": "demo", "video": None, "present": None,
                "truth": truth}
    p = Path(input_path)
    if not p.exists():
        raise FormatError("no such file", path=p)
    if p.is_file() and p.stat().st_size == 0:
        raise FormatError("empty file", path=p)
    if p.suffix.lower() in VIDEO_SUFFIXES + AUDIO_SUFFIXES:
        from flag3d.video import extract_pose

        pose = extract_pose(p, progress=lambda done, total: progress("pose", done / max(total, 1)))
        seq = pose.convert("flag3d24", space="3d")
        info = pose.info
        video = {"container": getattr(info, "container", None), "codec": getattr(info, "codec", None),
                 "width": getattr(info, "width", None), "height": getattr(info, "height", None),
                 "fps": getattr(info, "fps", None), "duration_s": getattr(info, "duration", None),
                 # probe / decode / pose / post seconds inside the "pose" stage (decode and
                 # pose are thread seconds and overlap; see flag3d.video.PoseResult)
                 "pose_timings_s": {k: round(float(v), 3) for k, v in (pose.timings or {}).items()}}
        return {"seq": seq, "pose2d": pose.pose2d, "kind": "video", "video": video,
                "present": float(pose.present_fraction), "truth": None}
    from flag3d.io import read_sequence

    try:
        seq = read_sequence(p)
    except FormatError as err:
        if not err.problem.startswith("cannot tell the format"):
            raise
        # The reader's hint ("name it with --format") is not an option of analyze.
        raise FormatError(
            f"neither a video ({', '.join(s.lstrip('.') for s in VIDEO_SUFFIXES)}) nor a skeleton "
            f"file flag3d can read ({err.problem.split('(', 1)[1].split(')', 1)[0]})",
            path=p) from None
    seq = seq.person(0) if seq.has_persons else seq
    return {"seq": seq, "pose2d": seq if seq.dims == 2 else None, "kind": "skeleton",
            "video": None, "present": None, "truth": None}


def _to_3d(seq: Sequence) -> Sequence:
    """The counting/quality models need 3D joints in a layout that reaches flag3d24."""
    from flag3d.skeleton.convert import can_convert, convert

    if seq.dims != 3:
        raise FormatError("this input holds 2D keypoints; counting and quality need 3D joints "
                          "(a video is analysed through MediaPipe's 3D world landmarks)",
                          path=seq.path)
    if seq.layout != "flag3d24":
        if not can_convert(seq.layout, "flag3d24"):
            raise FormatError(f"layout {seq.layout} cannot be converted to flag3d24", path=seq.path)
        seq = convert(seq, "flag3d24")
    return seq


# ------------------------------------------------------------------------- activity
def _activity(seq: Sequence, user: Optional[str], warnings: List[str]) -> Dict[str, Any]:
    from flag3d.taxonomy import get_activity

    def describe(act_id: Optional[str], source: str, top3: List[Dict[str, Any]],
                 recognizer: Optional[str]) -> Dict[str, Any]:
        if act_id is None:
            return {"id": None, "name": None, "body_part": None, "source": source,
                    "top3": top3, "recognizer": recognizer}
        act = get_activity(act_id)
        return {"id": act.id, "name": act.name, "body_part": act.body_part, "source": source,
                "top3": top3, "recognizer": recognizer}

    top3: List[Dict[str, Any]] = []
    recognizer = None
    try:
        from flag3d.analysis.recognize import recognize

        top3, recognizer = recognize(seq)
    except FormatError as err:
        warnings.append(f"activity recognition unavailable: {err.problem}")
    if user:
        return describe(get_activity(user).id, "user", top3, recognizer)
    meta_act = seq.meta.get("activity")
    if meta_act:
        try:
            return describe(get_activity(str(meta_act)).id, "file", top3, recognizer)
        except Flag3dError:
            pass
    if top3:
        return describe(top3[0]["id"], "recognized", top3, recognizer)
    warnings.append("activity unknown: name it with --activity for language guidance and quality")
    return describe(None, "unknown", top3, recognizer)


# ------------------------------------------------------------------------- counting
def _count(seq: Sequence, activity: Optional[str], warnings: List[str]) -> Dict[str, Any]:
    try:
        from flag3d.tasks.counting_infer import count_sequence

        res = count_sequence(seq, activity=activity)
        reps = [(r.start_frame, r.end_frame) for r in res.repetitions]
        return {"count": res.count, "count_raw": float(res.count_raw), "method": "HL-GCN counter (shipped)",
                "reason": res.reason, "reps": reps, "density": np.asarray(res.density, np.float64),
                "signal": None}
    except (ImportError, FormatError) as err:
        warnings.append(f"counting model unavailable ({getattr(err, 'problem', err)}); "
                        "used the training-free joint-angle counter")
    from flag3d.baselines.angles import AngleCounter

    pred = AngleCounter().predict(seq)
    reps = [tuple(map(int, r)) for r in (pred.repetitions or [])]
    return {"count": len(reps), "count_raw": float(pred.count), "method": "training-free joint-angle counter",
            "reason": pred.reason, "reps": reps, "density": None,
            "signal": None if pred.signal is None else np.asarray(pred.signal, np.float64)}


def _signal(seq: Sequence) -> np.ndarray:
    """A per-frame signal to plot: the first principal component of the centred joints."""
    x = seq.joints.reshape(seq.num_frames, -1).astype(np.float64)
    x = x - x.mean(axis=0)
    if not np.isfinite(x).all() or np.abs(x).max() == 0:
        return np.zeros(seq.num_frames)
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    pc = x @ vt[0]
    return pc / (np.abs(pc).max() + 1e-9)


# -------------------------------------------------------------------------- quality
def _quality(seq: Sequence, activity: Optional[str], reps: List[tuple],
             warnings: List[str]) -> Dict[str, Any]:
    from flag3d.taxonomy import get_activity

    base: Dict[str, Any] = {"assessable": False, "reason": None, "score": None,
                            "score_range": [3.0, 9.0], "method": None, "standards": [],
                            "repetitions": [], "failure_counts": {}, "summary_tip": None}
    if activity is None:
        base["reason"] = "not assessable: the activity is unknown (name it with --activity)"
        return base
    act = get_activity(activity)
    base["standards"] = [{"key": s.key, "text": s.text, "body_part": s.body_part}
                         for s in act.standards]
    if not reps:
        base["reason"] = "not assessable: no repetition was found"
        return base
    try:
        from flag3d.feedback import build_feedback
        from flag3d.tasks.quality_infer import assess

        res = assess(seq, repetitions=[list(r) for r in reps], activity=act.id)
    except (ImportError, FormatError) as err:
        base["reason"] = f"not assessable: no quality model for {act.id} ({getattr(err, 'problem', err)})"
        warnings.append(base["reason"])
        return base
    if not res.assessable:
        base["reason"] = res.reason
        return base
    fb = build_feedback(res).to_dict()
    base.update(assessable=True, reason=None, score=None if res.score is None else round(float(res.score), 3),
                method=f"HL-GCN standard scorer ({Path(res.checkpoint).name})")
    reps_out = []
    for i, rep in enumerate(fb.get("repetitions", [])):
        a, b = reps[i]
        reps_out.append({
            "index": i, "start_s": _seconds(seq, a), "end_s": _seconds(seq, b),
            "ok": bool(rep.get("ok")),
            "standards": [{"key": c["key"], "probability": round(float(c["probability"]), 4),
                           "met": bool(c["met"])}  # the checkpoint's (per-standard) threshold
                          for c in rep.get("checks", [])],
            "failed": [{k: c.get(k) for k in ("key", "text", "body_part", "joints", "mistake")}
                       for c in rep.get("failed", [])],
            "tip": rep.get("tip"),
        })
    base["repetitions"] = reps_out
    base["failure_counts"] = fb.get("failure_counts", {})
    base["summary_tip"] = fb.get("summary_tip") or fb.get("tip")
    return base


def _feedback_sentences(result: Dict[str, Any]) -> List[str]:
    q, c, a = result["quality"], result["counting"], result["activity"]
    out: List[str] = []
    name = a.get("name") or "the exercise"
    if c["count"] == 0:
        out.append(f"No repetition of {name} was found" + (f" ({c['reason']})." if c.get("reason") else "."))
        return out
    out.append(f"{c['count']} repetition{'s' if c['count'] != 1 else ''} of {name} found.")
    if not q["assessable"]:
        out.append(q["reason"][0].upper() + q["reason"][1:] + ".")
        return out
    bad = [r for r in q["repetitions"] if not r["ok"]]
    if not bad:
        out.append("Every repetition met all three standards.")
    counts = sorted(q["failure_counts"].items(), key=lambda kv: -kv[1])
    texts = {s["key"]: s["text"] for s in q["standards"]}
    for key, n in counts:
        if n:
            reps = [str(r["index"] + 1) for r in q["repetitions"] if any(f["key"] == key for f in r["failed"])]
            tip = next((r["tip"] for r in q["repetitions"] if r["failed"] and r["failed"][0]["key"] == key), None)
            sentence = f"Repetition{'s' if len(reps) > 1 else ''} {', '.join(reps)} missed: \"{texts.get(key, key)}\""
            out.append(sentence + (f" Tip: {tip}" if tip else ""))
    return out


# --------------------------------------------------------------------------- driver
def analyze(input_path: Optional[Path] = None, activity: Optional[str] = None,
            out: Optional[Path] = None, progress: Optional[Progress] = None,
            write: bool = True, report: bool = True, overlay: bool = False) -> AnalysisOutput:
    """Analyse one recording (a video, a skeleton file, or ``None`` for the demo).

    Args:
        input_path: the recording; ``None`` runs the built-in demo.
        activity: the activity (id or loosely spelled name); default: the file's metadata,
            else the recogniser's top-1.
        out: output folder for ``result.json`` / ``report.html`` (default ``./flag3d-analysis``).
        progress: ``progress(stage, fraction)`` callback.
        write: write the files (False: only return the result).
        report: also write ``report.html``.
        overlay: also write ``overlay.mp4`` (videos only).
    """
    prog = progress or _noop
    t_all = time.perf_counter()
    timings: Dict[str, float] = {}
    warnings: List[str] = []

    t = time.perf_counter()
    prog("load", 0.0)
    loaded = _load(Path(input_path) if input_path is not None else None, prog)
    timings["pose" if loaded["kind"] == "video" else "load"] = round(time.perf_counter() - t, 3)
    raw: Sequence = loaded["seq"]
    seq = _to_3d(raw)

    t = time.perf_counter()
    prog("recognition", 0.0)
    act = _activity(seq, activity, warnings)
    timings["recognition"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    prog("counting", 0.0)
    cnt = _count(seq, act["id"], warnings)
    timings["counting"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    prog("quality", 0.0)
    qual = _quality(seq, act["id"], cnt["reps"], warnings)
    timings["quality"] = round(time.perf_counter() - t, 3)

    fps = seq.fps
    reps_json = [{"index": i, "start_s": _seconds(seq, a), "end_s": _seconds(seq, b),
                  "start_frame": int(a), "end_frame": int(b)} for i, (a, b) in enumerate(cnt["reps"])]
    signal = cnt["signal"] if cnt["signal"] is not None else _signal(seq)
    times = np.arange(seq.num_frames) / fps if seq.times is None else seq.times - seq.times[0]
    inp: Dict[str, Any] = {
        "path": None if input_path is None else str(input_path), "kind": loaded["kind"],
        "synthetic": bool(raw.synthetic), "fps": round(float(fps), 4), "frames": int(seq.num_frames),
        "duration_s": round(float(seq.duration), 3), "layout": raw.layout,
        "person_present_fraction": loaded["present"], "video": loaded["video"],
    }
    if loaded["truth"] is not None:
        inp["truth"] = loaded["truth"]
    result: Dict[str, Any] = {
        "schema": SCHEMA, "version": VERSION, "flag3d_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input": inp, "activity": act,
        "counting": {"count": int(cnt["count"]), "count_raw": round(cnt["count_raw"], 4),
                     "method": cnt["method"], "reason": cnt["reason"], "repetitions": reps_json},
        "quality": qual, "feedback": [],
        "signals": {"times_s": _downsample(times), "signal": _downsample(signal),
                    "signal_name": "first principal component of the joints (normalised)",
                    "density": _downsample(cnt["density"])},
        "timings_s": timings, "warnings": warnings,
    }
    result["feedback"] = _feedback_sentences(result)
    output = AnalysisOutput(result, skeleton=seq, skeleton2d=loaded["pose2d"], signal=signal,
                            density=cnt["density"])
    if write:
        folder = Path(out) if out is not None else Path("flag3d-analysis")
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        prog("report", 0.0)
        if report:
            try:
                from flag3d.report.html import write_report

                output.files["report"] = str(write_report(
                    result, folder, skeleton=seq, skeleton2d=loaded["pose2d"], signal=signal,
                    density=cnt["density"]))
            except ImportError:
                warnings.append("report.html not written: the report module is not installed")
        if overlay:
            if loaded["kind"] != "video":
                warnings.append("--overlay needs a video input; skipped")
            else:
                from flag3d.report.overlay import write_overlay

                written = write_overlay(Path(input_path), loaded["pose2d"], result, folder)
                if written is not None:  # else write_overlay added a warning saying why
                    output.files["overlay"] = str(written)
        timings["report"] = round(time.perf_counter() - t, 3)
        timings["total"] = round(time.perf_counter() - t_all, 3)
        check_result(result)
        path = folder / "result.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        output.files["result"] = str(path)
    else:
        timings["total"] = round(time.perf_counter() - t_all, 3)
        check_result(result)
    prog("done", 1.0)
    return output
