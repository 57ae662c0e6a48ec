"""Embeddings of the taxonomy texts: activity descriptions (levels 1-3) and standards.

Level 1 is the activity's name, level 2 a description of the movement, level 3 the coach's
instructions (FLAG3D++ Sec. 3.3); the three standards are the sentences the per-repetition
key scores of the quality task refer to.  All texts come from :mod:`flag3d.taxonomy`.
``encoder=None`` means ``get_encoder()`` (MiniLM with the default disk cache).

Example:
    >>> from flag3d.text import get_encoder, encode_activity, encode_activities, encode_standards
    >>> enc = get_encoder("hash:64", cache=False)
    >>> encode_activity("sumo squat", 2, enc).shape
    (64,)
    >>> encode_activities(["A049", "A051", "m01"], 1, enc).shape
    (3, 64)
    >>> encode_standards("A006", enc).shape
    (3, 64)
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from flag3d.taxonomy import Activity, activities, get_activity
from flag3d.text.base import TextEncoder

Query = Union[str, int, Activity]

#: The language levels of the taxonomy.
LEVELS: Tuple[int, ...] = (1, 2, 3)


def _encoder(encoder: Optional[TextEncoder]) -> TextEncoder:
    if encoder is not None:
        return encoder
    from flag3d.text.factory import get_encoder

    return get_encoder()


def activity_text(activity: Query, level: int) -> str:
    """The taxonomy text of ``activity`` at ``level`` (1, 2 or 3).

    Raises:
        TaxonomyError: unknown activity or level.
    """
    return get_activity(activity).text(level)


def encode_activities(
    acts: Sequence[Query], level: int, encoder: Optional[TextEncoder] = None
) -> np.ndarray:
    """Embeddings of several activities' level-``level`` texts, shape ``(len(acts), dim)``.

    One batch: the way to embed all classes of a dataset at once.
    """
    texts = [activity_text(a, level) for a in acts]
    enc = _encoder(encoder)
    if not texts:
        return np.zeros((0, enc.dim), dtype=np.float32)
    return enc.encode(texts)


def encode_activity(activity: Query, level: int, encoder: Optional[TextEncoder] = None) -> np.ndarray:
    """Embedding of one activity's level-``level`` text, shape ``(dim,)``, unit norm.

    Args:
        activity: an id (``"A052"``, ``"m01"``), a name (loosely spelled) or an Activity.
        level: 1 name, 2 description, 3 coach's instructions.
        encoder: default ``get_encoder()``.
    """
    return encode_activities([activity], level, encoder)[0]


def encode_standards(activity: Query, encoder: Optional[TextEncoder] = None) -> np.ndarray:
    """Embeddings of the three standard sentences of ``activity``, shape ``(3, dim)``.

    Row ``j`` is standard ``j`` (the column ``y[:, j]`` of the key scores).
    """
    act = get_activity(activity)
    return _encoder(encoder).encode([s.text for s in act.standards])


def taxonomy_texts(source: Optional[str] = None) -> List[str]:
    """Every text the helpers above can ask for: levels 1-3 and the standards.

    Args:
        source: ``"flag3d"``, ``"uiprmd"`` or ``None`` for both.
    """
    out: List[str] = []
    for a in activities(source):
        out.extend(a.text(level) for level in LEVELS)
        out.extend(s.text for s in a.standards)
    return out
