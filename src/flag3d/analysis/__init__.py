"""The end-to-end analysis of one recording (``flag3d analyze``): activity, repetitions,
per-repetition quality, feedback, report.

Example:
    >>> from flag3d.analysis.result import SCHEMA
    >>> SCHEMA
    'flag3d.analysis'
"""
