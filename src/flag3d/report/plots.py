"""The report's plot: the counting signal and density over time, repetitions shaded.

Written directly as inline SVG (axes, ticks, polylines, shaded intervals): a figure for
60 s of motion costs a few milliseconds and a few tens of kB, is sharp at any zoom and
needs no font or image files.  (matplotlib with the Agg backend was measured first: 0.4-0.7 s
per figure plus 2.5 s to import on this machine under load, more than the whole budget of
the stages after pose.)

Each repetition interval is shaded: green when it met all standards, red when it missed at
least one, grey when quality was not assessed; repetition numbers (1-based) sit above the
top panel.  Long signals are thinned to at most ``MAX_POINTS`` per panel keeping each
bucket's minimum and maximum, so peaks survive.

Example:
    >>> import numpy as np
    >>> from flag3d.report.plots import nice_ticks, signal_figure
    >>> nice_ticks(0.0, 9.7, 6)
    [0.0, 2.0, 4.0, 6.0, 8.0]
    >>> t = np.arange(300) / 30.0
    >>> svg = signal_figure(t, np.sin(t * 3), None, [(1.0, 3.0), (4.0, 6.0)], [True, False])
    >>> svg.startswith("<svg"), svg.count('class="rep-span"')
    (True, 2)
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

#: Shading of a repetition: met all standards / missed one or more / not assessed.
SHADE = {True: "#2ca02c", False: "#d62728", None: "#7f7f7f"}
MAX_POINTS = 1500
WIDTH = 900.0
LEFT, RIGHT, TOP, GAP, BOTTOM = 52.0, 12.0, 18.0, 10.0, 30.0
HEIGHTS = {"signal": 150.0, "density": 90.0}


def nice_ticks(lo: float, hi: float, n: int = 7) -> List[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) inside ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + k * step, 10) for k in range(max(count, 0))]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _thin(t: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """At most ``MAX_POINTS`` points: each bucket's min and max in time order."""
    n = len(t)
    if n <= MAX_POINTS:
        return t, y
    edges = np.linspace(0, n, MAX_POINTS // 2 + 1).astype(np.int64)
    keep = []
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        seg = y[a:b]
        i, j = a + int(np.argmin(seg)), a + int(np.argmax(seg))
        keep.extend(sorted({i, j}))
    idx = np.asarray(keep, dtype=np.int64)
    return t[idx], y[idx]


def _polyline(x: np.ndarray, y: np.ndarray) -> str:
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y))


class _Panel:
    """One panel: data -> pixel transforms and its axes."""

    def __init__(self, top: float, height: float, t0: float, t1: float, y0: float, y1: float):
        self.top, self.height = top, height
        self.t0, self.t1 = t0, t1
        pad = (y1 - y0) * 0.06 or 1.0
        self.y0, self.y1 = y0 - pad, y1 + pad

    def x(self, t: np.ndarray) -> np.ndarray:
        return LEFT + (np.asarray(t, dtype=np.float64) - self.t0) / (self.t1 - self.t0) * (WIDTH - LEFT - RIGHT)

    def y(self, v: np.ndarray) -> np.ndarray:
        return self.top + self.height - (np.asarray(v, dtype=np.float64) - self.y0) / (self.y1 - self.y0) * self.height

    def axes(self, label: str, x_labels: bool) -> List[str]:
        bottom = self.top + self.height
        out = [f'<rect x="{LEFT}" y="{self.top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
               f'height="{self.height}" fill="none" stroke="#999" stroke-width="0.8"/>']
        for v in nice_ticks(self.y0, self.y1, 4):
            yy = float(self.y(v))
            out.append(f'<line x1="{LEFT - 4}" y1="{yy:.1f}" x2="{LEFT}" y2="{yy:.1f}" stroke="#999"/>'
                       f'<text x="{LEFT - 6}" y="{yy + 3:.1f}" text-anchor="end">{_fmt(v)}</text>')
        for v in nice_ticks(self.t0, self.t1, 10):
            xx = float(self.x(v))
            out.append(f'<line x1="{xx:.1f}" y1="{self.top:.1f}" x2="{xx:.1f}" y2="{bottom:.1f}" '
                       f'stroke="#e4e4e4" stroke-width="0.6"/>')
            if x_labels:
                out.append(f'<text x="{xx:.1f}" y="{bottom + 13:.1f}" text-anchor="middle">{_fmt(v)}</text>')
        mid = self.top + self.height / 2
        out.append(f'<text x="12" y="{mid:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 12 {mid:.1f})">{label}</text>')
        return out


def signal_figure(
    times: np.ndarray,
    signal: Optional[np.ndarray],
    density: Optional[np.ndarray],
    intervals: Sequence[Tuple[float, float]],
    ok: Optional[Sequence[Optional[bool]]] = None,
    density_times: Optional[np.ndarray] = None,
    signal_label: str = "signal",
) -> str:
    """Inline SVG of the signal (top) and density (bottom) with the repetitions shaded.

    Args:
        times: seconds of each ``signal`` sample.
        signal: per-frame counting signal (``None``: only the density is drawn).
        density: per-frame counting density (``None``: only the signal).
        intervals: ``(start_s, end_s)`` of each repetition.
        ok: per repetition True/False/None (met all standards / missed one / not assessed).
        density_times: seconds of each density sample (default: ``times`` when the lengths
            agree, else spread evenly over the same span).
        signal_label: y label of the signal panel (plain text, escaped by the caller).
    """
    ok_list = list(ok) if ok is not None else [None] * len(intervals)
    t = np.asarray(times, dtype=np.float64)
    series = []
    if signal is not None and len(signal):
        series.append(("signal", t, np.asarray(signal, dtype=np.float64)))
    if density is not None and len(density):
        d = np.asarray(density, dtype=np.float64)
        td = density_times
        if td is None or len(td) != len(d):
            td = t if len(t) == len(d) else np.linspace(t[0] if len(t) else 0.0,
                                                        t[-1] if len(t) else 1.0, len(d))
        series.append(("density", np.asarray(td, dtype=np.float64), d))
    if not series:
        return ""
    t0 = min(float(s[1][0]) for s in series)
    t1 = max(float(s[1][-1]) for s in series)
    if t1 <= t0:
        t1 = t0 + 1.0
    height = TOP + sum(HEIGHTS[n] for n, _, _ in series) + GAP * (len(series) - 1) + BOTTOM
    parts = [f'<svg class="signal-plot" viewBox="0 0 {WIDTH:g} {height:g}" width="{WIDTH:g}" '
             f'height="{height:g}" font-family="sans-serif" font-size="10" fill="#333" role="img" '
             f'aria-label="counting signal and density over time">']
    top = TOP
    for k, (name, ts, ys) in enumerate(series):
        lo, hi = float(np.min(ys)), float(np.max(ys))
        if name == "density":
            lo = min(lo, 0.0)
        if hi <= lo:
            hi = lo + 1.0
        panel = _Panel(top, HEIGHTS[name], t0, t1, lo, hi)
        bottom = top + panel.height
        for i, ((a, b), good) in enumerate(zip(intervals, ok_list)):
            xa, xb = (float(v) for v in panel.x(np.clip([a, b], t0, t1)))
            parts.append(f'<rect class="rep-span" x="{xa:.1f}" y="{top:.1f}" width="{max(xb - xa, 0.5):.1f}" '
                         f'height="{panel.height}" fill="{SHADE[good]}" fill-opacity="0.16"/>')
            if k == 0 and len(intervals) <= 60:
                parts.append(f'<text x="{(xa + xb) / 2:.1f}" y="{top - 5:.1f}" text-anchor="middle" '
                             f'font-size="9">{i + 1}</text>')
        parts.extend(panel.axes(signal_label if name == "signal" else "density",
                                x_labels=k == len(series) - 1))
        x, y = _thin(ts, ys)
        px, py = panel.x(x), panel.y(y)
        if name == "density":
            base = float(panel.y(0.0))
            parts.append(f'<polygon points="{px[0]:.1f},{base:.1f} {_polyline(px, py)} '
                         f'{px[-1]:.1f},{base:.1f}" fill="#ff7f0e" fill-opacity="0.35"/>')
            parts.append(f'<polyline class="density" points="{_polyline(px, py)}" fill="none" '
                         f'stroke="#c85a00" stroke-width="1.2"/>')
        else:
            parts.append(f'<polyline class="signal" points="{_polyline(px, py)}" fill="none" '
                         f'stroke="#1f3b73" stroke-width="1.3"/>')
        top = bottom + GAP
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{height - 3:.1f}" '
                 f'text-anchor="middle">time (s)</text></svg>')
    return "".join(parts)
