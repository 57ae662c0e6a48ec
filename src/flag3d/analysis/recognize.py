"""Activity recognition for ``flag3d analyze``: top-3 activities of one recording.

Uses the shipped recogniser ``flag3d/weights/recognition-activity/`` (trained by the
recognition task, see its MODEL_CARD.md), or a checkpoint folder given explicitly.  The
recording goes through exactly the recogniser's own test pipeline (conversion to its
layout, normalisation, deterministic multi-clip sampling; scores averaged over clips).
An ST-GCN recogniser (the shipped one) runs in numpy
(:mod:`flag3d.models.recognition_numpy`, no torch import); other backbones run in torch.

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
def _load(folder: str, stamp: int, engine: str) -> Tuple[Any, Any, Dict[str, Any], str]:
    """``(model, config, info, engine used)``; ``engine="auto"``: numpy when it can."""
    from flag3d.config import config_from_dict
    from flag3d.models.checkpoint import load_checkpoint_arrays
    from flag3d.models.recognition_numpy import NumpySTGCN, supports
    from flag3d.tasks.recognition_config import RecognitionConfig, load_trained

    if engine not in ("auto", "numpy", "torch"):
        raise ValueError(f"engine must be auto, numpy or torch, got {engine!r}")
    if engine != "torch":
        state, config, info = load_checkpoint_arrays(folder)
        cfg = config_from_dict(RecognitionConfig, config, (), source=Path(folder) / "config.json")
        if supports(cfg.backbone, cfg.backbone_args) and {"layout", "in_channels", "classes"} <= set(info):
            try:
                model = NumpySTGCN(state, info["layout"], int(info["in_channels"]), cfg.backbone_args)
            except KeyError as err:
                raise FormatError(f"weights do not fit the recogniser: {err} missing",
                                  path=folder) from None
            return model, cfg, info, "numpy"
        if engine == "numpy":
            raise FormatError(f"the numpy engine runs ST-GCN only, not {cfg.backbone}", path=folder)
    model, cfg, info = load_trained(folder)
    return model, cfg, info, "torch"


def recognize(seq: Sequence, checkpoint: Optional[PathLike] = None,
              top: int = 3, engine: str = "auto") -> Tuple[List[Dict[str, Any]], str]:
    """``(top-k [{"id", "name", "probability"}], recogniser name)`` for one recording.

    ``engine``: ``"auto"`` (numpy for ST-GCN, else torch), ``"numpy"`` or ``"torch"``.
    """
    folder = Path(checkpoint) if checkpoint is not None else shipped_recognizer()
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FormatError("no activity recogniser installed", path=folder)
    from flag3d.data.recognition import RecognitionDataset, SampleSet
    from flag3d.skeleton.convert import convert
    from flag3d.taxonomy import get_activity

    model, cfg, info, used = _load(str(folder.resolve()), weights.stat().st_mtime_ns, engine)
    one = seq.person(0) if seq.has_persons else seq
    # Already in the model's layout (e.g. flag3d24 from a video): use it as is; otherwise go
    # through the layout the model was trained from, exactly as its test pipeline does.
    layout = info["layout"] if one.layout == info["layout"] else (info.get("data_layout") or info["layout"])
    one = convert(one, layout) if one.layout != layout else one
    samples = SampleSet.from_sequences([one], "analyze")
    pipeline = cfg.test_pipeline(samples.dims, info["layout"], cfg.num_clips)
    ds = RecognitionDataset(samples.converted(info["layout"]), np.zeros(1, int), pipeline)
    if used == "numpy":
        scores = model.clip_scores(np.asarray(ds[0]["x"], dtype=np.float32)[None])[0]
    else:
        import torch

        from flag3d.tasks.recognition_config import predict_scores

        with torch.inference_mode():
            scores = predict_scores(model, ds, cfg, batch_size=1)[0]
    classes = list(info["classes"])
    order = np.argsort(-scores)[:top]
    out = []
    for k in order:
        act = get_activity(classes[int(k)])
        out.append({"id": act.id, "name": act.name, "probability": round(float(scores[k]), 4)})
    return out, folder.name
