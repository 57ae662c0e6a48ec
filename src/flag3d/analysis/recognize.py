"""Activity recognition for ``flag3d analyze``: top-3 activities of one recording.

Uses the shipped recogniser ``flag3d/weights/recognition-activity/`` (trained by the
recognition task, see its MODEL_CARD.md), or a checkpoint folder given explicitly.  The
recording goes through exactly the recogniser's own test pipeline (conversion to its
layout, normalisation, deterministic multi-clip sampling; scores averaged over clips).

Example:
    >>> from flag3d.analysis.recognize import shipped_recognizer
    >>> shipped_recognizer().name
    'recognition-activity'
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from flag3d.errors import FormatError
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]
SHIPPED = "recognition-activity"


def shipped_recognizer() -> Path:
    """Folder of the shipped recogniser (it may be absent in a development checkout)."""
    return Path(__file__).resolve().parent.parent / "weights" / SHIPPED


@lru_cache(maxsize=4)
def _load(folder: str, stamp: int) -> Tuple[Any, Any, Dict[str, Any]]:
    from flag3d.tasks.recognition_config import load_trained

    return load_trained(folder)


def recognize(seq: Sequence, checkpoint: Optional[PathLike] = None,
              top: int = 3) -> Tuple[List[Dict[str, Any]], str]:
    """``(top-k [{"id", "name", "probability"}], recogniser name)`` for one recording."""
    folder = Path(checkpoint) if checkpoint is not None else shipped_recognizer()
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FormatError("no activity recogniser installed", path=folder)
    import torch

    from flag3d.data.recognition import RecognitionDataset, SampleSet
    from flag3d.skeleton.convert import convert
    from flag3d.taxonomy import get_activity
    from flag3d.tasks.recognition_config import predict_scores

    model, cfg, info = _load(str(folder.resolve()), weights.stat().st_mtime_ns)
    one = seq.person(0) if seq.has_persons else seq
    # Already in the model's layout (e.g. flag3d24 from a video): use it as is; otherwise go
    # through the layout the model was trained from, exactly as its test pipeline does.
    layout = info["layout"] if one.layout == info["layout"] else (info.get("data_layout") or info["layout"])
    one = convert(one, layout) if one.layout != layout else one
    samples = SampleSet.from_sequences([one], "analyze")
    pipeline = cfg.test_pipeline(samples.dims, info["layout"], cfg.num_clips)
    ds = RecognitionDataset(samples.converted(info["layout"]), np.zeros(1, int), pipeline)
    with torch.inference_mode():
        scores = predict_scores(model, ds, cfg, batch_size=1)[0]
    classes = list(info["classes"])
    order = np.argsort(-scores)[:top]
    out = []
    for k in order:
        act = get_activity(classes[int(k)])
        out.append({"id": act.id, "name": act.name, "probability": round(float(scores[k]), 4)})
    return out, folder.name
