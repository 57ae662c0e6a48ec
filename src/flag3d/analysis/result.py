"""The ``result.json`` of ``flag3d analyze``: a versioned, documented schema.

Schema ``flag3d.analysis`` version ``1.0`` (all times in seconds from the start of the input;
frames are frames of the analysed sequence; ``null`` where something could not be determined,
always with a reason next to it)::

    {
      "schema": "flag3d.analysis", "version": "1.0", "flag3d_version": "0.1.0",
      "created": "2026-11-22T01:00:00Z",
      "input": {"path": str | null, "kind": "video" | "skeleton" | "demo",
                "synthetic": bool, "fps": float, "frames": int, "duration_s": float,
                "layout": str,                       # layout of the input skeleton
                "person_present_fraction": float | null,   # video: frames with a person
                "video": {...} | null},              # container, codec, size, fps of a video,
                                                     # pose_timings_s: probe/decode/pose/post
      "activity": {"id": str | null, "name": str | null, "body_part": str | null,
                   "source": "user" | "recognized" | "file" | "unknown",
                   "top3": [{"id": str, "name": str, "probability": float}],
                   "recognizer": str | null},         # checkpoint used for top3
      "counting": {"count": int, "count_raw": float, "method": str, "reason": str | null,
                   "repetitions": [{"index": int, "start_s": float, "end_s": float,
                                    "start_frame": int, "end_frame": int}]},
      "quality": {"assessable": bool, "reason": str | null, "score": float | null,
                  "score_range": [3.0, 9.0], "method": str | null,
                  "standards": [{"key": str, "text": str, "body_part": str}],
                  "repetitions": [{"index": int, "start_s": float, "end_s": float, "ok": bool,
                                   "standards": [{"key": str, "probability": float, "met": bool}],
                                   "failed": [{"key", "text", "body_part", "joints", "mistake"}],
                                   "tip": str | null}],
                  "failure_counts": {key: int}, "summary_tip": str | null},
      "feedback": [str],                         # plain sentences for people, worst first
      "signals": {"times_s": [float], "signal": [float], "signal_name": str,
                  "density": [float] | null},    # at most ~600 points, for plots
      "timings_s": {"load": float, "pose": float, "recognition": float, "counting": float,
                    "quality": float, "report": float, "total": float},
      "warnings": [str]
    }

``score`` is FLAG3D++ Eq. 1 (6 + sum over the three standards of g(mean key score), g linear
from [0, 1] to [-1, 1]); with no repetition it is ``null`` and ``assessable`` is false with
the reason ("not assessable: ..."), never a number.

Example:
    >>> from flag3d.analysis.result import SCHEMA, VERSION, check_result
    >>> (SCHEMA, VERSION)
    ('flag3d.analysis', '1.0')
    >>> check_result({"schema": "flag3d.analysis", "version": "1.0"})
    Traceback (most recent call last):
    ...
    flag3d.errors.Flag3dError: result.json misses required key(s): activity, counting, input, quality
"""

from __future__ import annotations

from typing import Any, Dict

from flag3d.errors import Flag3dError

SCHEMA = "flag3d.analysis"
VERSION = "1.0"
REQUIRED = ("schema", "version", "input", "activity", "counting", "quality")


def check_result(result: Dict[str, Any]) -> Dict[str, Any]:
    """Check the top-level structure and the "never a number without repetitions" rule."""
    missing = sorted(k for k in REQUIRED if k not in result)
    if missing:
        raise Flag3dError(f"result.json misses required key(s): {', '.join(missing)}")
    if result["schema"] != SCHEMA or str(result["version"]).split(".")[0] != VERSION.split(".")[0]:
        raise Flag3dError(f"not a {SCHEMA} {VERSION} result (got {result['schema']} {result['version']})")
    q, c = result["quality"], result["counting"]
    if c.get("count", 0) != len(c.get("repetitions", [])):
        raise Flag3dError("counting.count differs from the number of repetitions")
    if not q.get("assessable") and q.get("score") is not None:
        raise Flag3dError("a score is given for a recording that is not assessable")
    if q.get("assessable") is False and not q.get("reason"):
        raise Flag3dError("quality is not assessable but no reason is given")
    return result
