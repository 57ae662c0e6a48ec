"""Normalising activity names so that loose spellings compare equal.

``"Push-ups"``, ``"push ups"``, ``"PUSHUP"`` and ``"pushups"`` all normalise to the key
``"pushup"``: the text is lower-cased, split into runs of letters and digits (so hyphens,
spaces and punctuation do not matter), a few filler words are dropped (``and``, ``the``,
``with`` ...), each word loses a plural ending, and the words are joined without spaces.

Example:
    >>> from flag3d.taxonomy.names import name_key, name_tokens
    >>> name_key("Push-ups"), name_key("push up"), name_key("Sumo Squats")
    ('pushup', 'pushup', 'sumosquat')
    >>> name_tokens("Shrug And Sink The Shoulders")
    ('shrug', 'sink', 'shoulder')
"""

from __future__ import annotations

import re
from typing import Tuple

#: Words that carry no meaning in an activity name.
STOPWORDS = frozenset({"and", "the", "with", "of", "to", "your", "on"})

_WORD = re.compile(r"[a-z0-9]+")


def singular(word: str) -> str:
    """Strip an English plural ending from one lower-case word (``"lunges"`` -> ``"lunge"``).

    Words ending in ``ss``, ``us`` or ``is`` are left alone (``"press"`` stays ``"press"``).
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) >= 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def name_tokens(text: str) -> Tuple[str, ...]:
    """The normalised words of ``text``: lower case, no filler words, no plural endings."""
    words = _WORD.findall(str(text).lower().replace("&", " and "))
    return tuple(singular(w) for w in words if w not in STOPWORDS)


def name_key(text: str) -> str:
    """The normalised words of ``text`` joined without spaces (the exact-match key)."""
    return "".join(name_tokens(text))
