"""Outputs of an analysis a person reads: the self-contained ``report.html`` and an overlay video.

* :func:`write_report` (:mod:`flag3d.report.html`): ``result.json`` dict (+ skeletons,
  counting signal, density) -> ``report.html``;
* :func:`write_overlay` (:mod:`flag3d.report.overlay`): the input video with the 2D
  skeleton and a running repetition counter drawn on it.

Example:
    >>> from flag3d.report import write_report, write_overlay
    >>> callable(write_report), callable(write_overlay)
    (True, True)
"""

from flag3d.report.html import render_report, write_report
from flag3d.report.overlay import write_overlay

__all__ = ["render_report", "write_overlay", "write_report"]
