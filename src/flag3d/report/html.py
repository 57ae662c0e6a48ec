"""``report.html``: one self-contained page per analysis (inline CSS, SVG and script only).

:func:`write_report` turns the ``result.json`` dict of :mod:`flag3d.analysis.result` (plus,
when available, the analysed skeletons and the per-frame counting signal and density) into
one HTML file with

* a summary: activity with its top 3, repetition count, the Eq. 1 score or why there is
  none, input facts, and a banner when the input is synthetic;
* the per-repetition table: start/end in seconds, each standard met/failed with its
  probability, the tip;
* the counting signal and density over time with the repetition intervals shaded
  (:mod:`flag3d.report.plots`);
* the motion: a player (inline SVG driven by a small script, with a running repetition
  counter) and a key-frame strip of each repetition's start, extreme and end that needs
  no script (:mod:`flag3d.report.drawing`);
* feedback sentences tied to the activity's standards and instruction text.

Any part may be missing (no video, no quality, count 0, no arrays): its section says so.
All strings from the result are escaped.  The page loads nothing from the network; its
Content-Security-Policy forbids it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from flag3d.report.html import write_report
    >>> result = {"schema": "flag3d.analysis", "version": "1.0",
    ...           "input": {"path": "<me>.mp4", "kind": "video", "synthetic": False},
    ...           "activity": {"id": None, "name": None, "source": "unknown", "top3": []},
    ...           "counting": {"count": 0, "repetitions": []},
    ...           "quality": {"assessable": False, "reason": "not assessable: no repetition"}}
    >>> page = write_report(result, Path(tempfile.mkdtemp())).read_text()
    >>> "&lt;me&gt;.mp4" in page, "<me>" in page
    (True, False)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from flag3d.report.assets import CSS, PLAYER_JS
from flag3d.report.drawing import animation_data, key_frames, skeleton_svg, view_2d
from flag3d.report.sections import (
    details_section, esc, feedback_section, input_name, repetitions_section, summary_section,
    synthetic_banner,
)
from flag3d.skeleton.sequence import Sequence

Result = Dict[str, Any]
REPORT_NAME = "report.html"
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


def _json_script(element_id: str, data: Any) -> str:
    """``data`` as a JSON ``<script>`` block that no string inside can close early."""
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _intervals(result: Result) -> Tuple[List[Tuple[float, float]], List[Optional[bool]]]:
    """Repetition spans (s) and per repetition met-all-standards (None: not assessed)."""
    reps = (result.get("counting") or {}).get("repetitions") or []
    q = result.get("quality") or {}
    ok_of = {r.get("index"): bool(r.get("ok")) for r in (q.get("repetitions") or [])} \
        if q.get("assessable") else {}
    spans, ok = [], []
    for r in reps:
        try:
            spans.append((float(r["start_s"]), float(r["end_s"])))
        except (KeyError, TypeError, ValueError):
            continue
        ok.append(ok_of.get(r.get("index")))
    return spans, ok


def _times_for(n: int, result: Result, skeleton: Optional[Sequence]) -> np.ndarray:
    """Seconds of ``n`` per-frame samples of the analysed sequence."""
    if skeleton is not None and skeleton.num_frames == n:
        t = skeleton.frame_times()
        return t - t[0]
    sig = result.get("signals") or {}
    ts = sig.get("times_s")
    if ts is not None and len(ts) == n:
        return np.asarray(ts, dtype=np.float64)
    inp = result.get("input") or {}
    fps = float(inp.get("fps") or 0.0)
    if fps > 0:
        return np.arange(n, dtype=np.float64) / fps
    dur = float(inp.get("duration_s") or max(n - 1, 1))
    return np.linspace(0.0, dur, n)


def _as_array(x: Any) -> Optional[np.ndarray]:
    if x is None:
        return None
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size == 0:
        return None
    return np.where(np.isfinite(a), a, 0.0)


def signal_section(result: Result, skeleton: Optional[Sequence], signal: Optional[np.ndarray],
                   density: Optional[np.ndarray]) -> str:
    """The counting signal and density plot (from the arrays, else from ``result["signals"]``)."""
    from flag3d.report.plots import signal_figure

    sig_block = result.get("signals") or {}
    sig = _as_array(signal)
    den = _as_array(density)
    if sig is not None:
        t = _times_for(len(sig), result, skeleton)
    else:
        sig = _as_array(sig_block.get("signal"))
        t = _times_for(len(sig), result, None) if sig is not None else None
    if den is None:
        den = _as_array(sig_block.get("density"))
    if sig is None and den is None:
        return ('<section id="signal"><h2>Counting signal</h2><p class="muted">No counting '
                'signal was recorded.</p></section>')
    if t is None:
        t = _times_for(len(den), result, skeleton)
    den_t = None
    if den is not None:
        den_t = t if len(den) == len(t) else _times_for(len(den), result, skeleton)
    spans, ok = _intervals(result)
    name = str(sig_block.get("signal_name") or "counting signal")
    svg = signal_figure(t, sig, den, spans, ok, density_times=den_t)
    legend = ('<p class="muted">Shaded: each repetition (green: met all standards, red: missed '
              'at least one, grey: not assessed); numbers are repetition numbers. Signal: '
              f'{esc(name)}.</p>')
    return f'<section id="signal"><h2>Counting signal</h2><div class="plot">{svg}</div>{legend}</section>'


def _frame_of(times: np.ndarray, t: float) -> int:
    return int(np.clip(np.searchsorted(times, t - 1e-6), 0, len(times) - 1))


def motion_section(result: Result, skeleton: Optional[Sequence], skeleton2d: Optional[Sequence],
                   signal: Optional[np.ndarray]) -> str:
    """Skeleton player with running count, and the key-frame strip."""
    seq = skeleton2d if skeleton2d is not None and skeleton2d.dims == 2 else skeleton
    if seq is None:
        return ('<section id="motion"><h2>Motion</h2><p class="muted">No skeleton to draw.</p>'
                '</section>')
    seq = seq.person(0) if seq.has_persons else seq
    strip_view = view_2d(seq, width=84, height=112, margin=5)
    times = strip_view.times
    spans, ok = _intervals(result)
    frames = [(_frame_of(times, a), _frame_of(times, b) + 1) for a, b in spans]
    sig = _as_array(signal)
    marks = key_frames(seq.num_frames, frames, sig if sig is not None and len(sig) == seq.num_frames else None)
    cells = []
    for k in range(0, len(marks), 3) if frames else [0]:
        group = marks[k:k + 3]
        if frames:
            rep = k // 3
            cls = {True: " good", False: " fail", None: ""}[ok[rep]]
            title = f"Repetition {rep + 1}: {spans[rep][0]:.1f}–{spans[rep][1]:.1f} s"
        else:
            cls, title = "", "No repetition: frames across the recording"
        svgs = "".join(skeleton_svg(strip_view, f, f"{esc(role)} {times[f]:.1f}s") for f, role in group)
        cells.append(f'<div class="rep{cls}"><div>{esc(title)}</div>{svgs}</div>')
    more = ""
    if len(spans) > 12:
        more = f'<p class="muted">Key frames of the first 12 of {len(spans)} repetitions.</p>'
    player_view = view_2d(seq, width=240, height=300, margin=10)
    anim = animation_data(player_view)
    reps = [[a, b] for a, b in spans]
    player = (
        '<div id="player-box"><div><svg id="player" viewBox="0 0 240 300" width="240" '
        'height="300" role="img" aria-label="skeleton animation"></svg><div id="controls">'
        '<button id="play" type="button">play</button><input id="seek" type="range" min="0" '
        'value="0"><span id="clock">0.0 s</span></div></div><div><div class="muted">'
        'repetitions done</div><div id="live">0</div><p class="muted">'
        f'{esc(strip_view.source)}.</p></div></div>'
        + _json_script("anim-data", anim) + _json_script("rep-data", reps)
    )
    return (f'<section id="motion"><h2>Motion</h2>{player}<h3>Key frames</h3>'
            f'<div class="strip" id="keyframes">{"".join(cells)}</div>{more}</section>')


def render_report(result: Result, skeleton: Optional[Sequence] = None,
                  skeleton2d: Optional[Sequence] = None, signal: Optional[np.ndarray] = None,
                  density: Optional[np.ndarray] = None) -> str:
    """The report page as a string (see :func:`write_report`)."""
    act = (result.get("activity") or {}).get("name") or "unknown activity"
    count = int((result.get("counting") or {}).get("count") or 0)
    name = input_name(result)
    created = result.get("created") or ""
    version = result.get("flag3d_version") or ""
    body = "".join([
        f'<header><h1>Workout analysis: {esc(act)}</h1><p class="sub">{esc(name)}'
        f'{" · " + esc(created) if created else ""} · flag3d {esc(version)} · result schema '
        f'{esc(result.get("schema"))} {esc(result.get("version"))}</p></header>',
        synthetic_banner(result),
        summary_section(result),
        feedback_section(result),
        repetitions_section(result),
        signal_section(result, skeleton, signal, density),
        motion_section(result, skeleton, skeleton2d, signal),
        details_section(result),
        '<footer>Made by flag3d. Probabilities are the models\' estimates; the score follows '
        'FLAG3D++ Eq. 1 (6 + the sum over the three standards of 2·(share of repetitions that '
        'met it) − 1).</footer>',
    ])
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>flag3d: {esc(act)}, {count} repetitions — {esc(name)}</title>"
        f"<style>{CSS}</style></head><body><main>{body}</main>"
        f"<script>{PLAYER_JS}</script></body></html>\n"
    )


def write_report(result: Result, out_dir: Path, skeleton: Optional[Sequence] = None,
                 skeleton2d: Optional[Sequence] = None, signal: Optional[np.ndarray] = None,
                 density: Optional[np.ndarray] = None) -> Path:
    """Write ``out_dir/report.html`` and return its path.

    Args:
        result: the ``result.json`` dict (:mod:`flag3d.analysis.result`).
        out_dir: folder to write into (created if needed).
        skeleton: the analysed 3D sequence (frames of the counting repetitions).
        skeleton2d: the image-space 2D pose of a video (preferred for drawing).
        signal: per-frame counting signal of ``skeleton``.
        density: per-frame counting density.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_NAME
    tmp = out / f".{REPORT_NAME}.{os.getpid()}.tmp"
    tmp.write_text(render_report(result, skeleton, skeleton2d, signal, density), encoding="utf-8")
    tmp.replace(path)
    return path
