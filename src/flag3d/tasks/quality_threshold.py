"""Per-standard decision thresholds of a quality checkpoint, chosen on its validation people.

The scorer G gives ``P(repetition meets standard j)``; a standard counts as met when that
probability reaches a threshold.  One threshold (0.5) for every standard is the default.
Some standards' faults are rarer or subtler than others, so :func:`tune_thresholds` picks,
for each standard index ``j`` separately, the threshold with the best fault F1 on the
checkpoint's **validation** repetitions (synthetic: the ``val_people``; UI-PRMD: the
``val_subjects`` - only their clips with per-standard labels count) and stores it in the
checkpoint: ``config.json`` gets ``"thresholds": [t0, t1, t2]`` (which
:class:`~flag3d.tasks.quality_infer.Scorer`, ``flag3d assess``, ``flag3d analyze`` and
``flag3d eval quality`` then use) and ``info.json`` gets ``"threshold_selection"`` (the
validation data, the grid, F1 at 0.5 and at the chosen thresholds).  Test people are never
looked at.

Example:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from flag3d.tasks.quality_threshold import write_thresholds
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "config.json").write_text('{"threshold": 0.5}')
    >>> _ = (d / "info.json").write_text('{}')
    >>> write_thresholds(d, [0.35, 0.5, 0.6], {"source": "validation"})
    >>> json.loads((d / "config.json").read_text())["thresholds"]
    [0.35, 0.5, 0.6]
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence as Seq, Union

import numpy as np

from flag3d.errors import Flag3dError, FormatError
from flag3d.metrics.quality import (
    THRESHOLD_GRID, binary_metrics, choose_thresholds, standard_thresholds,
)

PathLike = Union[str, "os.PathLike[str]"]


def _update_json(path: Path, values: Dict[str, Any]) -> None:
    if not path.is_file():
        raise FormatError("checkpoint file not found", path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise FormatError(f"unreadable JSON ({err})", path=path) from None
    if not isinstance(data, dict):
        raise FormatError("expected a JSON object", path=path)
    data.update(values)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_thresholds(folder: PathLike, thresholds: Seq[float],
                     selection: Optional[Dict[str, Any]] = None) -> None:
    """Store per-standard ``thresholds`` in ``folder/config.json`` (and ``selection`` in ``info.json``)."""
    root = Path(folder)
    thr = [round(float(v), 4) for v in standard_thresholds(list(thresholds))]
    _update_json(root / "config.json", {"thresholds": thr})
    if selection is not None:
        _update_json(root / "info.json", {"threshold_selection": selection})


def select_thresholds(prob: np.ndarray, keys: np.ndarray,
                      grid: Seq[float] = THRESHOLD_GRID) -> Dict[str, Any]:
    """The thresholds with the best fault F1 per standard, and F1 at 0.5 and at them.

    Only repetitions whose three labels are known count.
    """
    known = (keys >= 0).all(axis=1)
    k, p = keys[known], prob[known]
    if not len(k) or not (k == 0).any():
        raise Flag3dError("no validation repetition with a labelled fault; cannot choose thresholds")
    thr, f1 = choose_thresholds(k, p, grid)
    f1_half = [binary_metrics(k[:, j], (p[:, j] >= 0.5).astype(int))["f1"] for j in range(k.shape[1])]
    return {"thresholds": thr, "f1_at_thresholds": f1, "f1_at_0.5": f1_half,
            "repetitions": int(len(k)), "faults": [int((k[:, j] == 0).sum()) for j in range(k.shape[1])],
            "grid": [float(g) for g in grid]}


def tune_thresholds(checkpoint: PathLike, overrides: Iterable[str] = (), write: bool = True,
                    clips: Optional[List[Any]] = None) -> Dict[str, Any]:
    """Choose per-standard thresholds on the checkpoint's validation people (module docstring).

    Args:
        checkpoint: a folder from ``flag3d train quality``.
        overrides: config ``key=value`` changes for the data.
        write: store them in the checkpoint.
        clips: the validation clips, when already built (training does this).
    """
    from flag3d.config import config_from_dict
    from flag3d.tasks.quality import build_data
    from flag3d.tasks.quality_config import QualityConfig
    from flag3d.tasks.quality_infer import Scorer

    scorer = Scorer(checkpoint)
    names = {f.name for f in dataclasses.fields(QualityConfig)}
    cfg = config_from_dict(QualityConfig, {k: v for k, v in scorer.config.items() if k in names},
                           overrides)
    split = None
    if clips is None:
        d = build_data(cfg)
        clips, split = d["val"], (d.get("split") or {}).get("val")
    if not clips:
        raise Flag3dError(f"checkpoint {checkpoint} has no validation people to choose thresholds on")
    prob = scorer.probabilities(clips)
    keys = np.stack([c.keys for c in clips])
    sel = select_thresholds(prob, keys)
    sel["source"] = "validation"
    sel["validation_people"] = split if split is not None else sorted({c.subject for c in clips})
    if write:
        write_thresholds(checkpoint, sel["thresholds"], sel)
    return sel
