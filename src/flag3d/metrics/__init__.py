"""Metrics, one module per task, pure functions on arrays.

* :mod:`flag3d.metrics.counting`: repetition counting (MAE, OBO@a in both published
  conventions, interval IoU of predicted repetitions, per-body-part tables).
* :mod:`flag3d.metrics.quality`: action quality assessment (Eq. 1 score, Spearman, R-L2).
* :mod:`flag3d.metrics.recognition`: action recognition (top-k accuracy, confusion matrix).

Example:
    >>> from flag3d.metrics.counting import counting_metrics
    >>> counting_metrics([3.0], [3]).obo[1.0]
    1.0
"""
